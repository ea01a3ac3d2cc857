"""Every config mistake is one ConfigError naming file:line:column, the layer, and the
closest valid name; the CLI turns it into one line and a non-zero exit."""
import textwrap

import pytest

from layerflow import ConfigError, Net
from layerflow.cli import main

GOOD = """\
layers:
  - {name: data, type: Input, top: [data, label], shape: [[4, 6], [4]]}
  - name: ip
    type: InnerProduct
    bottom: data
    top: ip
    num_output: 3
  - {name: loss, type: SoftmaxWithLoss, bottom: [ip, label], top: loss}
"""


def write(tmp_path, text, name="net.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def error_of(path):
    with pytest.raises(ConfigError) as info:
        Net(path)
    return info.value


def test_good_config_builds(tmp_path):
    net = Net(write(tmp_path, GOOD))
    assert net.blobs["ip"].shape == (4, 3)


@pytest.mark.parametrize("bad,good,line,col,layer,pattern", [
    ("    num_output: 3", "    num_ouput: 3", 7, 5, "ip",
     r"unknown key 'num_ouput' \(did you mean 'num_output'"),
    ("    type: InnerProduct", "    type: InnerProdcut", 4, 5, "ip",
     r"unknown layer type 'InnerProdcut' \(did you mean 'InnerProduct'"),
    ("    bottom: data", "    bottom: dat", 5, 5, "ip",
     r"unknown bottom blob 'dat' \(did you mean 'data'"),
    ("    num_output: 3", "    num_output: three", 7, 5, "ip",
     r"'num_output' must be int, got 'three'"),
    ("    num_output: 3", "    num_output: 0", 7, 5, "ip", r"'num_output' must be >= 1"),
    ("    top: ip", "    top: label", 6, 5, "ip",
     r"top 'label' is already produced by layer 'data'"),
])
def test_config_mistakes_name_file_line_column_and_closest(tmp_path, bad, good, line, col,
                                                          layer, pattern):
    path = write(tmp_path, GOOD.replace(bad, good))
    err = error_of(path)
    assert (err.file, err.line, err.col, err.layer) == (str(path), line, col, layer), str(err)
    assert str(err).startswith(f"{path}:{line}:{col}: layer '{layer}': ")
    import re
    assert re.search(pattern, str(err)), str(err)


def test_wrong_bottom_count(tmp_path):
    path = write(tmp_path, GOOD.replace("bottom: [ip, label]", "bottom: [ip]"))
    err = error_of(path)
    assert err.layer == "loss" and err.line == 8
    assert "SoftmaxWithLoss takes 2 bottom blob(s), got 1" in str(err)


def test_cycle(tmp_path):
    path = write(tmp_path, """\
        layers:
          - {name: data, type: Input, top: x, shape: [2, 3]}
          - {name: a, type: InnerProduct, bottom: c, top: b, num_output: 3}
          - {name: b, type: InnerProduct, bottom: b, top: c, num_output: 3}
        """)
    err = error_of(path)
    assert err.layer == "a" and err.line == 3
    assert "cycle" in str(err)


def test_bottom_listed_before_its_producer(tmp_path):
    path = write(tmp_path, """\
        layers:
          - {name: a, type: ReLU, bottom: x, top: y}
          - {name: data, type: Input, top: x, shape: [2, 3]}
        """)
    assert "listed later" in str(error_of(path))


def test_in_place_refused_for_layers_that_cannot(tmp_path):
    path = write(tmp_path, GOOD.replace("top: ip\n", "top: data\n").replace(
        "bottom: [ip, label]", "bottom: [data, label]"))
    assert "InnerProduct cannot run in place" in str(error_of(path))


def test_bad_yaml_names_line(tmp_path):
    path = write(tmp_path, "layers:\n  - {name: a, type: ReLU}\n\t- b\n")
    err = error_of(path)
    assert err.file == str(path) and err.line == 3 and "invalid YAML" in str(err)


def test_unsafe_yaml_tags_are_refused(tmp_path):
    path = write(tmp_path, "layers: !!python/object/apply:os.system [echo pwned]\n")
    assert "could not determine a constructor" in str(error_of(path))


def test_duplicate_key_and_layer_name(tmp_path):
    twice = "    num_output: 3\n    num_output: 4"
    path = write(tmp_path, GOOD.replace("    num_output: 3", twice))
    assert "duplicate key 'num_output'" in str(error_of(path))
    path = write(tmp_path, GOOD.replace("name: loss", "name: ip"))
    assert "duplicate layer name" in str(error_of(path))


def test_nested_filler_type_suggests(tmp_path):
    path = write(tmp_path, GOOD.replace("    num_output: 3",
                                        "    num_output: 3\n    weight_filler: {type: xavir}"))
    err = error_of(path)
    assert err.line == 8 and "did you mean 'xavier'" in str(err)


def test_unknown_net_level_key(tmp_path):
    path = write(tmp_path, "force_backwards: true\n" + GOOD)
    err = error_of(path)
    assert err.line == 1 and "did you mean 'force_backward'" in str(err)


def test_shape_error_names_layer_blob_and_shapes(tmp_path):
    path = write(tmp_path, GOOD.replace("shape: [[4, 6], [4]]", "shape: [[4, 6], [5]]"))
    err = error_of(path)
    assert "layer 'loss'" in str(err) and "'label' of shape [5]" in str(err)
    assert err.line == 8


def test_missing_file():
    with pytest.raises(ConfigError, match="nope.yaml: file not found"):
        Net("nope.yaml")


CLI_MISTAKES = {
    "unknown key": ("num_output: 3", "num_ouput: 3", "did you mean 'num_output'"),
    "misspelt type": ("type: InnerProduct", "type: InnerProdcut", "did you mean 'InnerProduct'"),
    "missing bottom": ("bottom: data", "bottom: dat", "did you mean 'data'"),
    "wrong bottom count": ("bottom: [ip, label]", "bottom: [ip]", "takes 2 bottom"),
    "duplicate top": ("top: ip\n", "top: label\n", "already produced by layer 'data'"),
    "cycle": ("bottom: data", "bottom: ip", "cycle"),
    "bad YAML": ("top: loss}", "top: loss", "invalid YAML"),
}


@pytest.mark.parametrize("mistake", sorted(CLI_MISTAKES))
def test_cli_prints_one_line_and_exits_nonzero(tmp_path, capsys, mistake):
    good, bad, expected = CLI_MISTAKES[mistake]
    text = GOOD.replace(good, bad)
    assert text != GOOD
    config = write(tmp_path, "solver: {base_lr: 0.1, max_iter: 1}\nnet:\n" +
                   textwrap.indent(text, "  "), "solver.yaml")
    status = main(["train", str(config)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status != 0
    assert len(err) == 1, err
    assert err[0].startswith(f"layerflow: error: {config}:"), err[0]
    assert expected in err[0] and "Traceback" not in err[0]
