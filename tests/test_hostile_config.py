"""Hostile and careless configs: each is one ConfigError line naming the file, found fast,
never a traceback, a hang or a megabyte message (issue 16, items 1, 4, 5, 8)."""
import subprocess
import sys
import time

import pytest

from layerflow import ConfigError, Net
from layerflow.config import load_yaml_text
from layerflow.config.errors import shown

HEAD = "name: n\nlayers:\n"
INPUT = "  - {name: data, type: Input, top: data, shape: [2, 3]}\n"


def net_error(tmp_path, text, **kw):
    """The ConfigError building a net from `text` raises (it must raise one)."""
    path = tmp_path / "net.yaml"
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as err:
        Net(str(path), **kw)
    assert time.perf_counter() - t0 < 5
    msg = str(err.value)
    assert msg.startswith(str(path)), msg
    assert "\n" not in msg and len(msg) < 600, msg[:300]
    return msg


def billion_laughs(levels=9):
    lines = ["lol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"lol{i}: &a{i} [{refs}]")
    return lines


def test_alias_bomb_is_refused_before_it_expands(tmp_path):
    text = "\n".join(billion_laughs()) + f"\n{HEAD}{INPUT}"
    assert len(text) < 1000
    msg = net_error(tmp_path, text)
    assert "expands to more than" in msg


def test_alias_bomb_as_net_name_is_a_short_line(tmp_path):
    text = "\n".join(billion_laughs(4)) + f"\nname: *a3\nlayers:\n{INPUT}"
    msg = net_error(tmp_path, text)
    assert "'name' must be a string" in msg and len(msg) < 300


def test_net_name_must_be_a_string(tmp_path):
    msg = net_error(tmp_path, f"name: [1, 2]\nlayers:\n{INPUT}")
    assert "'name' must be a string" in msg and ":1:" in msg


def test_small_aliases_still_work():
    data = load_yaml_text("a: &x {lr_mult: 1}\nb: [*x, *x]\n")
    assert data["b"] == [{"lr_mult": 1}, {"lr_mult": 1}]


@pytest.mark.parametrize("opener,closer", [("[", "]"), ("{a: ", "}"), ("- ", "")])
def test_deep_nesting_is_one_line(tmp_path, opener, closer):
    if opener == "- ":
        body = "".join("  " * i + "-\n" for i in range(1000)) + "  " * 1000 + "1\n"
    else:
        body = "x: " + opener * 1000 + "1" + closer * 1000 + "\n"
    msg = net_error(tmp_path, body)
    assert "nested more than" in msg


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\ufffe"])
def test_control_characters_name_line_and_column(tmp_path, char):
    msg = net_error(tmp_path, f"{HEAD}{INPUT}  - {{name: r{char}, type: ReLU}}\n")
    assert ":4:" in msg and "not allowed" in msg


def test_invalid_utf8_is_one_line(tmp_path):
    msg = net_error(tmp_path, (HEAD + INPUT).encode() + b"  - {name: \xff\xfe}\n")
    assert "cannot read" in msg


@pytest.mark.parametrize("value,match", [
    ("9223372036854775808", "out of range"), ("1.0e+308", "out of range"),
    ("-1.0e+308", "out of range"), ("2147483648", "out of range"),
    ("99999999999999999999999999999999999999999", "out of range"),
    ("1.5", "must be int, got 1.5"), (".inf", "must be int, got inf"),
    (".nan", "must be int, got nan"), ("1e9", "must be int, got '1e9'"),
])
def test_integers_are_whole_and_in_range(tmp_path, value, match):
    text = f"{HEAD}{INPUT}  - {{name: ip, type: InnerProduct, bottom: data, top: ip, num_output: {value}}}\n"
    msg = net_error(tmp_path, text)
    assert "layer 'ip'" in msg and "'num_output'" in msg and ":4:" in msg and match in msg


@pytest.mark.parametrize("key", ["kernel_size", "stride", "pad"])
@pytest.mark.parametrize("value", ["9223372036854775808", "1.0e+308", "[3, 1.0e+300]"])
def test_convolution_sizes_in_range(tmp_path, key, value):
    text = (f"{HEAD}  - {{name: data, type: Input, top: data, shape: [1, 1, 8, 8]}}\n"
            f"  - {{name: conv, type: Convolution, bottom: data, top: c, num_output: 2, "
            f"kernel_size: 3, {key}: {value}}}\n".replace("kernel_size: 3, kernel_size",
                                                          "kernel_size"))
    msg = net_error(tmp_path, text)
    assert "layer 'conv'" in msg and key in msg and "out of range" in msg


def test_huge_float_as_a_float_param_is_refused(tmp_path):
    text = (f"{HEAD}{INPUT}  - {{name: ip, type: InnerProduct, bottom: data, top: ip, "
            f"num_output: 2, weight_filler: {{type: constant, value: {'9' * 400}}}}}\n")
    assert "out of the range of a float" in net_error(tmp_path, text)


def test_shape_whose_product_overflows_int64(tmp_path):
    text = f"{HEAD}  - {{name: d, type: Input, top: data, shape: [2147483647, 2147483647, 2147483647]}}\n"
    assert "multiplies to more than 2**62" in net_error(tmp_path, text)


def test_dummy_data_shape_overflow(tmp_path):
    text = (f"{HEAD}  - {{name: d, type: DummyData, top: data, "
            f"shape: [[65536, 65536, 65536, 65536]]}}\n")
    assert "multiplies to more than 2**62" in net_error(tmp_path, text)


@pytest.mark.parametrize("type_name", [":", "a:", ":B", "..x:Y", "os path:X", "a.b:c d"])
def test_malformed_plugin_type_names_file_and_line(tmp_path, type_name):
    msg = net_error(tmp_path, f"{HEAD}{INPUT}  - {{name: r, type: '{type_name}', "
                              "bottom: data, top: data}\n")
    assert ":4:" in msg and "cannot load plug-in layer" in msg


def test_layer_name_too_long_for_a_zip_member(tmp_path):
    name = "x" * 70000
    msg = net_error(tmp_path, f"{HEAD}  - {{name: {name}, type: Input, top: data, shape: [2]}}\n")
    assert "70,000 characters long; at most 1024" in msg and len(msg) < 400


def test_a_megabyte_unknown_key_is_echoed_short(tmp_path):
    key = "k" * 1_000_000       # an explicit key: YAML's implicit keys stop at 1024 chars
    msg = net_error(tmp_path, f"{HEAD}  - name: d\n    type: Input\n    ? {key}\n    : 1\n")
    assert "unknown key" in msg


def test_layer_entry_that_is_not_a_mapping(tmp_path):
    msg = net_error(tmp_path, "\n".join(billion_laughs(5)) + "\nlayers:\n  - *a4\n")
    assert "layer 0 must be a mapping" in msg


def test_shown_cuts_long_and_deep_values():
    deep = [[[[[[1]]]]]] * 1000
    assert len(shown(deep)) <= 80 and len(shown("x" * 10**6)) <= 80
    assert shown("a\nb") == "'a\\nb'"


# -- plug-ins turned off ---------------------------------------------------------------------
PLUGIN_NET = HEAD + INPUT + "  - {name: r, type: 'layerflow.layers.relu:ReLU', bottom: data, top: data}\n"


def test_allow_plugins_false_refuses_module_class(tmp_path):
    msg = net_error(tmp_path, PLUGIN_NET, allow_plugins=False)
    assert "plug-ins are turned off" in msg and ":4:" in msg
    path = tmp_path / "net.yaml"
    assert Net(str(path)).layers[1].type_name == "ReLU"        # allowed by default


def test_allow_plugins_false_refuses_plugins_list(tmp_path):
    msg = net_error(tmp_path, f"plugins: [json]\n{HEAD}{INPUT}", allow_plugins=False)
    assert "plug-ins are turned off" in msg and "json" in msg


def test_cli_no_plugins(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(PLUGIN_NET)
    out = subprocess.run([sys.executable, "-m", "layerflow.cli", "draw", str(path), "-o",
                          str(tmp_path / "n.dot"), "--no-plugins"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 1 and "plug-ins are turned off" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("key,value,match", [
    ("batch_size", "1.0e+9", r"'batch_size' must be <= 1048576"),
    ("prefetch", "1.0e+9", r"'prefetch' must be <= 64"),
    ("batch_size", "1.0e+308", r"'batch_size' = .* is out of range"),
    ("batch_size", "1e9", r"'batch_size' must be int, got '1e9'"),     # YAML 1.1: a string
])
def test_data_layer_sizes_are_sane(tmp_path, key, value, match):
    text = f"{HEAD}  - {{name: d, type: MNISTData, top: [data, label], {key}: {value}}}\n"
    assert pytest.importorskip("re").search(match, net_error(tmp_path, text))


def test_fifo_or_device_as_a_config(tmp_path):
    import os
    fifo = tmp_path / "c.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=r"c.yaml: not a regular file"):
        Net(str(fifo))
    with pytest.raises(ConfigError, match=r"/dev/zero: not a regular file"):
        Net("/dev/zero")


def test_net_file_named_with_a_nul(tmp_path):
    (tmp_path / "net.yaml").write_text('net: "a\\0b"\nsolver: {type: SGD}\n')
    with pytest.raises(ConfigError) as err:
        Net(str(tmp_path / "net.yaml"))
    assert str(err.value) == f"{tmp_path}/a\\x00b: cannot read: embedded null byte"


def test_solver_type_that_is_not_a_name(tmp_path):
    from layerflow.solvers import Solver
    path = tmp_path / "s.yaml"
    path.write_text(f"solver: {{type: [SGD]}}\nnet:\n  {HEAD.replace(chr(10), chr(10) + '  ')}"
                    f"{INPUT.replace('  - ', '    - ')}")
    with pytest.raises(ConfigError, match=r"s.yaml:1:\d+: 'type' must be a solver name"):
        Solver(str(path))


def test_cli_test_with_a_bad_test_iter(tmp_path, capsys):
    from layerflow.cli import main
    path = tmp_path / "s.yaml"
    path.write_text(f"solver: {{test_iter: x}}\nnet:\n  layers:\n    {INPUT.strip()}\n")
    np_weights = tmp_path / "w.npz"
    import numpy as np
    np.savez(np_weights, **{"a/0": np.zeros(1)})
    assert main(["test", str(path), "--weights", str(np_weights)]) == 1
    err = capsys.readouterr().err
    assert "'test_iter' must be a count of batches" in err and "Traceback" not in err
