"""Caffe prototxt import: the text-format parser, net (current and V1) and solver import,
and the round trip (import, build, Caffe's shapes; a short training run)."""
from pathlib import Path

import numpy as np
import pytest

from layerflow.config import ConfigError, load_yaml_text
from layerflow.config.caffe_import import import_caffe, import_caffe_text
from layerflow.config.prototxt import Ident, PrototxtError, parse_prototxt
from layerflow.net import Net

CAFFE = Path(__file__).parent / "data" / "caffe"


# -- the text-format parser -----------------------------------------------------------------
def test_parser_scalars_messages_and_lines():
    msg = parse_prototxt('name: "a\\tb" # comment\n'
                         "layer {\n  x: -1.5e-3 y: 7 z: MAX t: true\n"
                         "  sub: { k: 'q' \"r\" }\n  shape < dim: 1; dim: 2, >\n}\n"
                         "v: [1, 2, 3]\nw: 0x1F\ninf_: -inf\n")
    assert msg.get("name") == "a\tb"
    layer = msg.get("layer")
    assert msg.line_of("layer") == 2 and layer.line_of("sub") == 4
    assert layer.get("x") == -1.5e-3 and layer.get("y") == 7 and isinstance(layer.get("y"), int)
    assert layer.get("z") == "MAX" and isinstance(layer.get("z"), Ident)
    assert layer.get("t") is True
    assert layer.get("sub").get("k") == "qr"          # adjacent strings join
    assert layer.get("shape").getall("dim") == [1, 2]
    assert msg.getall("v") == [1, 2, 3]
    assert msg.get("w") == 31 and msg.get("inf_") == float("-inf")


@pytest.mark.parametrize("text, line, col, words", [
    ("layer {\n  name: 'x'\n", 1, None, "missing '}'"),
    ("a: 1\nb: }\n", 2, 4, "expected a value"),
    ("a 1\n", 1, 3, "expected ':' or '{'"),
    ("a: 1\n  $\n", 2, 3, "unexpected character"),
    ("a: [1, 2\n", 2, None, "expected ',' or ']'"),
])
def test_parser_errors_name_line_and_column(text, line, col, words):
    with pytest.raises(PrototxtError) as err:
        parse_prototxt(text, "net.prototxt")
    e = err.value
    assert words in str(e) and e.file == "net.prototxt"
    if line == 1 and "missing" in words:
        assert e.line == 3                            # end of file, after line 2
    else:
        assert e.line == line
    if col is not None:
        assert e.col == col


# -- net import -----------------------------------------------------------------------------
def test_lenet_imports_with_flat_params_and_mnist_mapping():
    result = import_caffe(CAFFE / "lenet_train_test.prototxt")
    layers = result.config["layers"]
    by_name = {}
    for layer in layers:
        by_name.setdefault(layer["name"], layer)
    train, test = layers[0], layers[1]
    assert train["type"] == test["type"] == "MNISTData"
    assert (train["split"], train["batch_size"], test["split"], test["batch_size"]) == \
        ("train", 64, "test", 100)
    assert train["transform"] == {"scale": 0.00390625}
    assert train["include"] == {"phase": "TRAIN"} and test["include"] == {"phase": "TEST"}
    conv1 = by_name["conv1"]
    assert conv1["num_output"] == 20 and conv1["kernel_size"] == 5 and conv1["stride"] == 1
    assert conv1["weight_filler"] == {"type": "xavier"}
    assert conv1["param"] == [{"lr_mult": 1}, {"lr_mult": 2}]
    assert by_name["pool1"]["pool"] == "MAX"
    assert by_name["accuracy"]["bottom"] == ["ip2", "label"]
    assert not result.problems, result.problems
    assert any("MNISTData" in n for n in result.notes)


def test_v1_format_imports_to_the_same_yaml():
    current = import_caffe(CAFFE / "lenet_train_test.prototxt")
    v1 = import_caffe(CAFFE / "lenet_v1_train_test.prototxt")
    assert v1.config == current.config
    body = lambda r: r.to_yaml().split("\n", 1)[1]    # noqa: E731 (header names the file)
    assert body(v1) == body(current)


def test_known_datasets_off_maps_data_to_lmdb():
    result = import_caffe(CAFFE / "lenet_train_test.prototxt", known_datasets=False)
    data = result.config["layers"][0]
    assert data["type"] == "LMDBData"
    assert data["source"] == "examples/mnist/mnist_train_lmdb"
    assert data["batch_size"] == 64 and data["transform"] == {"scale": 0.00390625}


def test_cifar_lmdb_source_maps_to_cifar10_data():
    text = ('layer { name: "cifar" type: "Data" top: "data" top: "label" '
            'include { phase: TEST } transform_param { mean_file: "mean.binaryproto" } '
            'data_param { source: "examples/cifar10/cifar10_test_lmdb" batch_size: 100 '
            'backend: LMDB } }\n')
    data = import_caffe_text(text).config["layers"][0]
    assert data["type"] == "CIFAR10Data" and data["split"] == "test"
    assert data["transform"] == {"mean_file": "mean.binaryproto"}


def test_imported_lenet_builds_with_caffes_shapes(mnist_data, tmp_path):
    text = import_caffe(CAFFE / "lenet_train_test.prototxt").to_yaml()
    path = tmp_path / "lenet.yaml"
    path.write_text(text)
    net = Net(str(path), "train", seed=1)
    expected = {"data": (64, 1, 28, 28), "label": (64,), "conv1": (64, 20, 24, 24),
                "pool1": (64, 20, 12, 12), "conv2": (64, 50, 8, 8), "pool2": (64, 50, 4, 4),
                "ip1": (64, 500), "ip2": (64, 10), "loss": ()}
    for name, shape in expected.items():
        assert net.blobs[name].shape == shape, name
    test_net = Net(str(path), "test", seed=1)
    assert test_net.blobs["data"].shape == (100, 1, 28, 28)
    assert test_net.blobs["accuracy"].shape == ()


def test_imported_solver_trains_a_short_run(mnist_data, tmp_path):
    from layerflow.solvers import Solver
    result = import_caffe(CAFFE / "lenet_solver.prototxt")
    solver_cfg = result.config["solver"]
    assert solver_cfg == {"base_lr": 0.01, "momentum": 0.9, "weight_decay": 0.0005,
                          "lr_policy": "inv", "gamma": 0.0001, "power": 0.75,
                          "max_iter": 10000, "test_interval": 500, "test_iter": 100,
                          "display": 100, "snapshot": 5000,
                          "snapshot_prefix": "examples/mnist/lenet"}
    assert any("solver_mode" in n for n in result.notes)
    cfg = load_yaml_text(result.to_yaml(), "lenet.yaml")
    cfg["solver"].update(snapshot_prefix=str(tmp_path / "lenet"), display=0, test_iter=2,
                         test_interval=30, snapshot=0, random_seed=1,
                         snapshot_after_train=False)
    solver = Solver(cfg, max_iter=30, quiet=True)
    first = solver.step(1)
    solver.solve()
    assert solver.iter == 30
    assert np.isfinite(solver.smoothed_loss) and solver.smoothed_loss < first
    assert 0.0 <= solver.last_test["accuracy"] <= 1.0


def test_old_input_fields_become_an_input_layer():
    result = import_caffe(CAFFE / "mlp_deploy_v1.prototxt")
    layers = result.config["layers"]
    assert layers[0] == {"name": "input", "type": "Input", "top": "data",
                         "shape": [10, 1, 28, 28]}
    assert layers[2]["negative_slope"] == 0.1 and layers[3]["dropout_ratio"] == 0.3
    assert "engine" not in layers[4]
    net = Net(load_yaml_text(result.to_yaml()), "test")
    assert net.blobs["prob"].shape == (10, 10)


def test_input_shape_and_input_layer_forms():
    text = ('input: "a" input_shape { dim: 2 dim: 3 }\n'
            'input: "b" input_shape { dim: 2 dim: 5 }\n'
            'layer { name: "c" type: "Concat" bottom: "a" bottom: "b" top: "c" '
            'concat_param { axis: 1 } }\n'
            'layer { name: "in2" type: "Input" top: "d" '
            'input_param { shape { dim: 4 dim: 8 } } }\n')
    result = import_caffe_text(text)
    first, _, second = result.config["layers"]
    assert first == {"name": "input", "type": "Input", "top": ["a", "b"],
                     "shape": [[2, 3], [2, 5]]}
    assert second["shape"] == [4, 8]
    net = Net(load_yaml_text(result.to_yaml()), "test")
    assert net.blobs["c"].shape == (2, 8)


def test_unsupported_types_and_keys_are_listed_with_lines():
    text = ('name: "x"\ninput: "data"\ninput_dim: 1\ninput_dim: 4\n'
            'layer {\n  name: "w"\n  type: "WindowData"\n  top: "q"\n}\n'
            'layer {\n  name: "r"\n  type: "ReLU"\n  bottom: "data"\n  top: "r"\n'
            '  relu_param { negative_slope: 0.2 bogus: 3 }\n}\n'
            'layer { name: "p" type: "Python" bottom: "r" top: "p" '
            'python_param { module: "mymod" layer: "MyLayer" } }\n')
    result = import_caffe_text(text)
    lines = dict(result.problems)
    assert "WindowData" in lines[5]
    assert "bogus" in lines[15]
    assert result.config["layers"][3]["type"] == "mymod:MyLayer"


def test_solver_with_inline_net_and_v1_solver_type():
    text = ('solver_type: ADAM\nbase_lr: 0.001\nmomentum2: 0.99\nstepvalue: 5\n'
            'lr_policy: "multistep"\ngamma: 0.1\ndevice_id: 1\nsnapshot_format: HDF5\n'
            'net_param { layer { name: "in" type: "Input" top: "x" '
            'input_param { shape { dim: 2 dim: 3 } } } }\n')
    result = import_caffe_text(text)
    solver = result.config["solver"]
    assert solver["type"] == "Adam" and solver["stepvalue"] == [5]
    assert solver["device_id"] == 1                 # the runtime's device, as in Caffe
    assert any("snapshot_format" in m for _, m in result.problems)


def test_solver_without_net_file_says_what_it_tried(tmp_path):
    path = tmp_path / "solver.prototxt"
    path.write_text('net: "nowhere/net.prototxt"\nbase_lr: 0.1\n')
    with pytest.raises(ConfigError, match="nowhere/net.prototxt.*not found"):
        import_caffe(path)


def test_old_param_names_and_unsupported_enum_values():
    text = ('input: "a" input_shape { dim: 2 dim: 3 dim: 4 dim: 4 }\n'
            'layer { name: "s" type: "Slice" bottom: "a" top: "s1" top: "s2"\n'
            '  slice_param { slice_dim: 1 slice_point: 1 } }\n'
            'layer { name: "c" type: "Concat" bottom: "s1" bottom: "s2" top: "c"\n'
            '  concat_param { concat_dim: 1 } }\n'
            'layer { name: "p" type: "Pooling" bottom: "c" top: "p"\n'
            '  pooling_param { pool: STOCHASTIC kernel_size: 2 } }\n')
    result = import_caffe_text(text)
    _, sl, cat, pool = result.config["layers"]
    assert sl["slice_dim"] == 1 and sl["slice_point"] == [1] and cat["concat_dim"] == 1
    assert pool["pool"] == "STOCHASTIC"
    assert [(line, "STOCHASTIC" in m) for line, m in result.problems] == [(7, True)]
    result.config["layers"].pop()                   # without the STOCHASTIC pooling it builds
    net = Net(load_yaml_text(result.to_yaml()), "test")
    assert net.blobs["c"].shape == (2, 3, 4, 4)
