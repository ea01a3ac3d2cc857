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
                         "shape": [[10, 1, 28, 28]]}
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
    assert second["shape"] == [[4, 8]]           # always a list of shapes
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


# -- Caffe's rules: AutoTopBlobs, shape lists, Python layers, ceil_mode ------------------------
def test_loss_without_top_gets_one_and_counts():
    text = ('layer { name: "in" type: "Input" top: "x" top: "y" '
            'input_param { shape { dim: 4 dim: 3 } shape { dim: 4 dim: 3 } } }\n'
            'layer { name: "l2" type: "EuclideanLoss" bottom: "x" bottom: "y" }\n'
            'layer { name: "other" type: "UnknownLoss" bottom: "x" bottom: "y" }\n'
            'layer { name: "relu" type: "ReLU" bottom: "x" top: "r" }\n')
    result = import_caffe_text(text)
    _, loss, unknown, relu = result.config["layers"]
    assert loss["top"] == "l2" and unknown["top"] == "other" and relu["top"] == "r"
    assert any("AutoTopBlobs" in n for n in result.notes)
    result.config["layers"].pop(2)                   # the unknown type cannot build
    net = Net(load_yaml_text(result.to_yaml()), "test")
    x = np.arange(12.0).reshape(4, 3)
    net.blobs["x"].data[...] = x
    net.blobs["y"].data[...] = 0
    assert net.forward() == pytest.approx((x ** 2).sum() / 8, rel=1e-6)


def test_dummy_data_shapes_are_lists_and_legacy_dims_map():
    text = ('layer { name: "d" type: "DummyData" top: "a" '
            'dummy_data_param { shape { dim: 2 dim: 5 } '
            'data_filler { type: "constant" value: 0.5 } } }\n'
            'layer { name: "e" type: "DummyData" top: "b" top: "c" '
            'dummy_data_param { num: 2 channels: 3 height: 4 width: 5 '
            'num: 2 channels: 1 height: 1 width: 1 } }\n')
    result = import_caffe_text(text)
    d, e = result.config["layers"]
    assert d["shape"] == [[2, 5]] and e["shape"] == [[2, 3, 4, 5], [2, 1, 1, 1]]
    assert not result.problems, result.problems
    net = Net(load_yaml_text(result.to_yaml()), "test")
    assert net.blobs["a"].shape == (2, 5) and float(net.blobs["a"].data[0, 0]) == 0.5
    assert net.blobs["b"].shape == (2, 3, 4, 5) and net.blobs["c"].shape == (2, 1, 1, 1)


def test_flat_dummy_data_shape_in_yaml_still_works():
    cfg = load_yaml_text("layers:\n  - {name: d, type: DummyData, top: [a, b], shape: [3, 2]}\n")
    net = Net(cfg, "test")
    assert net.blobs["a"].shape == net.blobs["b"].shape == (3, 2)


PY_PLUGIN = """
from dataclasses import dataclass
from layerflow import Layer


class AddConst(Layer):
    @dataclass
    class Params:
        param_str: str = ""

    def setup(self, bottom, top):
        self.value = float(self.p.param_str)

    def reshape(self, bottom, top):
        top[0].reshape(bottom[0].shape)

    def forward(self, bottom, top):
        top[0].data[...] = bottom[0].data + self.value
"""


def test_python_layer_becomes_a_plugin_with_its_param_str(tmp_path, monkeypatch):
    (tmp_path / "caffe_py_plugin.py").write_text(PY_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    text = ('input: "x" input_shape { dim: 2 dim: 3 }\n'
            'layer { name: "p" type: "Python" bottom: "x" top: "y" python_param { '
            'module: "caffe_py_plugin" layer: "AddConst" param_str: "2.5" '
            'share_in_parallel: false } }\n')
    result = import_caffe_text(text)
    layer = result.config["layers"][1]
    assert layer["type"] == "caffe_py_plugin:AddConst" and layer["param_str"] == "2.5"
    assert not result.problems, result.problems
    net = Net(load_yaml_text(result.to_yaml()), "test")
    net.blobs["x"].data[...] = 1.0
    net.forward()
    assert np.all(net.blobs["y"].data == 3.5)


def test_python_layer_not_importable_is_reported_and_keeps_param_str():
    text = ('input: "x" input_shape { dim: 2 dim: 3 }\n'
            'layer { name: "p" type: "Python" bottom: "x" top: "y" python_param { '
            'module: "no_such_module_here" layer: "L" param_str: "{\'a\': 1}" } }\n')
    result = import_caffe_text(text)
    layer = result.config["layers"][1]
    assert layer["param_str"] == "{'a': 1}"
    assert any("plug-in" in m and "importable" in m for _, m in result.problems)


@pytest.mark.parametrize("flag, size", [("ceil_mode: false", 3), ("ceil_mode: true", 4),
                                        ("round_mode: FLOOR", 3), ("", 4)])
def test_pooling_ceil_mode_false_rounds_down(flag, size):
    text = ('input: "x" input_shape { dim: 1 dim: 2 dim: 8 dim: 8 }\n'
            'layer { name: "p" type: "Pooling" bottom: "x" top: "y" pooling_param { '
            f'pool: MAX kernel_size: 3 stride: 2 {flag} }} }}\n')
    result = import_caffe_text(text)
    assert not result.problems, result.problems
    net = Net(load_yaml_text(result.to_yaml()), "test")
    assert net.blobs["y"].shape == (1, 2, size, size)
    x = np.random.default_rng(0).standard_normal((1, 2, 8, 8)).astype(np.float32)
    net.blobs["x"].data[...] = x
    net.forward()
    ref = np.array([[[[x[0, c, 2 * i:2 * i + 3, 2 * j:2 * j + 3].max() for j in range(size)]
                      for i in range(size)] for c in range(2)]])
    np.testing.assert_array_equal(net.blobs["y"].data, ref)


def test_fork_type_names_and_new_catalogue_names_pass_through():
    text = ('input: "x" input_shape { dim: 1 dim: 4 dim: 6 dim: 6 }\n'
            'layer { name: "dw" type: "DepthwiseConvolution" bottom: "x" top: "d" '
            'convolution_param { num_output: 4 kernel_size: 3 group: 4 } }\n'
            'layer { name: "pr" type: "PReLU" bottom: "d" top: "d" }\n'
            'layer { name: "perm" type: "Permute" bottom: "d" top: "q" '
            'permute_param { order: 0 order: 2 order: 3 order: 1 } }\n')
    layers = import_caffe_text(text).config["layers"]
    assert [la["type"] for la in layers[1:]] == ["ConvolutionDepthwise", "PReLU", "Permute"]
    assert layers[3]["order"] == [0, 2, 3, 1]


def test_repeated_layer_names_in_one_phase_get_a_suffix_not_across_phases():
    """Caffe accepts two layers of one name (its MNIST autoencoder has two 'loss' layers):
    the second in the same phase is renamed with a note; a TRAIN and a TEST layer of one
    name keep it (train and test nets share params by layer name)."""
    text = ('layer { name: "in" type: "Input" top: "x" top: "t" '
            'input_param { shape { dim: 2 dim: 3 } shape { dim: 2 dim: 3 } } }\n'
            'layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y" '
            'include { phase: TRAIN } inner_product_param { num_output: 3 } }\n'
            'layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y" '
            'include { phase: TEST } inner_product_param { num_output: 3 } }\n'
            'layer { name: "loss" type: "EuclideanLoss" bottom: "y" bottom: "t" top: "a" }\n'
            'layer { name: "loss" type: "EuclideanLoss" bottom: "y" bottom: "t" top: "b" '
            'loss_weight: 0 }\n')
    result = import_caffe_text(text)
    names = [l["name"] for l in result.config["layers"]]
    assert names == ["in", "ip", "ip", "loss", "loss_2"]
    assert any("renamed 'loss_2'" in n for n in result.notes)
