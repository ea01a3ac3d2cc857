"""Hostile or corrupt solver states for `--resume` (issue 16, item 6): every field is checked
against the solver and its nets before any is used; each bad one is a WeightsFileError naming
the file and the field, and the solver is left as it was."""
import json
import zipfile

import numpy as np
import pytest
import yaml

from layerflow.cli import main
from layerflow.io.weights import WeightsFileError, load_npz
from layerflow.solvers import Solver


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A config with a shuffling NPZData layer (a data cursor) and a state after 3 steps."""
    tmp = tmp_path_factory.mktemp("state")
    rng = np.random.default_rng(0)
    np.savez(tmp / "d.npz", data=rng.normal(size=(10, 4)), label=rng.integers(0, 3, 10))
    net = {"layers": [
        {"name": "data", "type": "NPZData", "top": ["data", "label"], "source": str(tmp / "d.npz"),
         "batch_size": 4, "prefetch": 0, "keys": ["data", "label"]},
        {"name": "ip", "type": "InnerProduct", "bottom": "data", "top": "ip", "num_output": 3},
        {"name": "loss", "type": "SoftmaxWithLoss", "bottom": ["ip", "label"], "top": "loss"}]}
    solver = {"type": "SGD", "base_lr": 0.1, "momentum": 0.9, "max_iter": 9,
              "snapshot_prefix": str(tmp / "s"), "random_seed": 3}
    cfg = tmp / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"solver": solver, "net": net}))
    s = Solver(str(cfg), quiet=True)
    s.step(3)
    _, state = s.snapshot()
    return str(cfg), state


def rewrite(run, tmp_path, **changes):
    """A copy of the state with arrays replaced (None: removed); '__' stands for '/'."""
    arrays = load_npz(run[1])
    for key, value in changes.items():
        key = key.replace("__", "/")
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    path = tmp_path / "bad.state.npz"
    np.savez(path, **arrays)
    return path


def refused(run, path, match):
    solver = Solver(run[0], quiet=True)
    before = [p.blob.data.copy() for p in solver.params]
    cursor = solver.net.layers[0].cursor
    with pytest.raises(WeightsFileError, match=match) as err:
        solver.restore(path)
    assert str(err.value).startswith(str(path)) and len(str(err.value)) < 400
    assert solver.iter == 0 and solver.net.layers[0].cursor is cursor
    for b, p in zip(before, solver.params):
        np.testing.assert_array_equal(b, p.blob.data)


def test_genuine_state_resumes(run):
    solver = Solver(run[0], quiet=True)
    solver.restore(run[1])
    assert solver.iter == 3


@pytest.mark.parametrize("value,match", [
    (np.array(-5), r"'iter' = -5 is outside 0..9"),
    (np.array(2**62), r"'iter' = 4611686018427387904 is outside 0..9"),
    (np.array(3.5), r"'iter' must be an integer"),
    (np.array([3, 4]), r"'iter' must be an integer"),
    (np.array("3"), r"'iter' must be an integer"),
])
def test_iter_out_of_range_or_wrong_type(run, tmp_path, value, match):
    refused(run, rewrite(run, tmp_path, iter=value), match)


def test_deeply_nested_json_in_a_generator_state(run, tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    refused(run, rewrite(run, tmp_path, rng__train__ip=np.array(deep)), r"characters of JSON")
    deep = "[" * 1000 + "]" * 1000
    refused(run, rewrite(run, tmp_path, rng__train__ip=np.array(deep)),
            r"'rng/train/ip' nests JSON 1000 levels deep")


def test_generator_state_of_the_wrong_kind(run, tmp_path):
    refused(run, rewrite(run, tmp_path, rng__train__data=np.array(json.dumps({"a": 1}))),
            r"'rng/train/data' is not a state of layer 'data''s PCG64 generator")
    refused(run, rewrite(run, tmp_path, rng__train__data=np.array("{not json")),
            r"'rng/train/data' is not valid JSON")


def test_numpy_global_state_short_array(run, tmp_path):
    refused(run, rewrite(run, tmp_path, numpy_global__keys=np.zeros(10, np.uint32)),
            r"'numpy_global/\*'\) is malformed")
    refused(run, rewrite(run, tmp_path, numpy_global__rest=np.array([700.0, 0, 0])),
            r"out of range")


@pytest.mark.parametrize("order,match", [
    (np.full(10, -1), r"not a permutation of layer 'data''s 10 records"),
    (np.arange(10) * 1.0, r"'layer/train/data/order' has 1 dimension\(s\) of float64; layer "
                          r"'data' keeps 1 of int64"),
    (np.arange(9), r"must be a vector of 10 record indices.*length 9"),
    (np.arange(11), r"must be a vector of 10 record indices.*length 11"),
    (np.zeros(10, np.int64), r"not a permutation"),
    (np.arange(10).reshape(2, 5), r"'layer/train/data/order' has 2 dimension"),
    (np.arange(10) + 1, r"not a permutation"),
])
def test_data_cursor_order(run, tmp_path, order, match):
    refused(run, rewrite(run, tmp_path, layer__train__data__order=order), match)


def test_data_cursor_position_and_epoch(run, tmp_path):
    refused(run, rewrite(run, tmp_path, layer__train__data__cursor=np.array(10)),
            r"'layer/train/data/cursor' must be an integer in 0..9")
    refused(run, rewrite(run, tmp_path, layer__train__data__epoch=np.array(-1)),
            r"'layer/train/data/epoch' must be an integer in 0")
    refused(run, rewrite(run, tmp_path, layer__train__data__world_size=np.array(0)),
            r"world_size' must be an integer in 1..10")


def test_unknown_layer_state_field(run, tmp_path):
    refused(run, rewrite(run, tmp_path, layer__train__data__evil=np.array(1)),
            r"'layer/train/data/evil' is not a field")
    refused(run, rewrite(run, tmp_path, layer__train__ip__x=np.array(1)),
            r"layer 'ip', which keeps none")


def test_weights_and_history(run, tmp_path):
    refused(run, rewrite(run, tmp_path, history__ip__0__0=None), r"'history/ip/0/0' is missing")
    refused(run, rewrite(run, tmp_path, weights__ip__0=np.full((3, 4), np.nan, np.float32)),
            r"'weights/ip/0' holds non-finite")
    refused(run, rewrite(run, tmp_path, history__ip__1__0=np.zeros(4, np.float32)),
            r"'history/ip/1/0' has shape \[4\], the net expects \[3\]")
    refused(run, rewrite(run, tmp_path, weights__ip__1=np.zeros(3, np.int64)),
            r"'weights/ip/1' has dtype int64")
    refused(run, rewrite(run, tmp_path, smoothed_losses=np.array([1.0, np.inf])),
            r"'smoothed_losses' must be a vector of finite")


def test_identity_fields(run, tmp_path):
    refused(run, rewrite(run, tmp_path, signature=np.array(["a", "b"])),
            r"'signature' must be a string")
    refused(run, rewrite(run, tmp_path, solver_type=np.array("Adam")), r"written by the Adam")
    refused(run, rewrite(run, tmp_path, version=np.array(99)), r"outside 0..1")


def test_zip_bomb_in_a_state_is_refused_unread(run, tmp_path):
    path = rewrite(run, tmp_path)
    import io
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (1 << 40,)})
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("layer_json/train/data/x.npy", header.getvalue())
    refused(run, path, r"declares shape \[1099511627776\]")


def test_cli_resume_with_a_bad_state_is_one_line(run, tmp_path, capsys):
    path = rewrite(run, tmp_path, iter=np.array(-5))
    assert main(["-q", "train", run[0], "--resume", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"layerflow: error: {path}: 'iter' = -5") and "Traceback" not in err


STATE_JUNK = [np.array(-1), np.array(2**62), np.array(1.5), np.array(np.nan), np.array("x"),
              np.array("[" * 50 + "]" * 50), np.array('{"state": {"state": 1}}'),
              np.zeros(0), np.zeros((2, 2)), np.ones(3, np.int8), np.arange(10)[::-1].copy(),
              np.full(10, 2**40), np.array([True]), np.array(["a", "b"]), None]


def test_fuzz_state_fields(run, tmp_path):
    """Random fields replaced or removed: restore either refuses with a WeightsFileError or
    accepts a state the solver then trains from without error."""
    rng = np.random.default_rng(16)
    genuine = load_npz(run[1])
    keys = sorted(genuine)
    for case in range(60):
        arrays = dict(genuine)
        for _ in range(rng.integers(1, 3)):
            key = keys[rng.integers(len(keys))]
            junk = STATE_JUNK[rng.integers(len(STATE_JUNK))]
            if junk is None:
                arrays.pop(key, None)
            else:
                arrays[key] = junk
        path = tmp_path / f"f{case}.state.npz"
        np.savez(path, **arrays)
        solver = Solver(run[0], quiet=True)
        try:
            solver.restore(path)
        except WeightsFileError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc)
            continue
        solver.step(2)
        assert 0 <= solver.iter <= 9 + 2

