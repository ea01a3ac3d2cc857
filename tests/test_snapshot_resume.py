"""Snapshots and exact resume: a run resumed from any snapshot ends bit for bit where the
uninterrupted run ends (weights, history, losses), for every solver and through every source
of randomness (DummyData refills, Dropout, MNISTData's shuffling and prefetch thread); bad
files and mismatched states are clear errors naming the file."""
import gzip
import json
import os
import struct
import zipfile

import numpy as np
import pytest

from layerflow.cli import main
from layerflow.config import load_yaml
from layerflow.data.mnist import load_mnist
from layerflow.io.weights import WeightsFileError, load_npz, save_npz_atomic
from layerflow.solvers import Solver
from layerflow.solvers.base import find_snapshots, latest_state

from .test_solver_plugins import config, mlp_layers

RULES = {"SGD": {}, "Nesterov": {}, "AdaGrad": {"momentum": 0.0},
         "RMSProp": {"momentum": 0.0, "base_lr": 0.01}, "AdaDelta": {"momentum": 0.9,
                                                                    "base_lr": 1.0},
         "Adam": {"momentum": 0.9, "base_lr": 0.01}, "AdamW": {"momentum": 0.9,
                                                                "base_lr": 0.01}}


def metrics(prefix):
    """The metrics records, without the timing field."""
    path = f"{prefix}_metrics.jsonl"
    return [{k: v for k, v in json.loads(l).items() if k != "iter_per_s"}
            for l in open(path, encoding="utf-8").read().splitlines()]


def final_state(solver):
    return ([p.blob.data.copy() for p in solver.params],
            [h.data.copy() for hist in solver.history for h in hist])


def assert_same_state(a, b):
    for x, y in zip(a[0] + a[1], b[0] + b[1]):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("kind", list(RULES))
def test_resume_equals_uninterrupted_run(tmp_path, kind):
    # resuming at 10 also resumes at a test boundary (the test net's DummyData draws too)
    solver = dict(RULES[kind], type=kind, max_iter=16, snapshot=5, test_interval=5,
                  test_iter=2)
    ref = Solver(config(tmp_path / "ref", **solver), quiet=True).solve()
    # an "interrupted" run: it stops at 13, after snapshots at 5 and 10
    Solver(config(tmp_path / "run", **solver), max_iter=13, quiet=True).solve()
    assert sorted(find_snapshots(tmp_path / "run")) == [5, 10, 13]
    resumed = Solver(config(tmp_path / "run", **solver), quiet=True)
    resumed.solve(resume=tmp_path / "run_iter_10.state.npz")
    assert resumed.iter == 16 and resumed.smoothed_loss == ref.smoothed_loss
    assert_same_state(final_state(resumed), final_state(ref))
    assert metrics(tmp_path / "run") == metrics(tmp_path / "ref")
    assert [r["iter"] for r in metrics(tmp_path / "ref") if r["phase"] == "test"] == [5, 10, 15]


def write_idx(path, array):
    dims = array.shape
    header = struct.pack(">BBBB", 0, 0, 0x08, len(dims)) + b"".join(
        struct.pack(">I", d) for d in dims)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header + array.tobytes())


def mnist_subset(folder, n_train=96, n_test=50):
    """The first images of the real MNIST (found through LAYERFLOW_DATA), so that a few
    iterations cross several epochs and reshuffles."""
    folder.mkdir()
    for split, n, stem in (("train", n_train, "train"), ("test", n_test, "t10k")):
        images, labels = load_mnist(split)
        write_idx(folder / f"{stem}-images-idx3-ubyte.gz", images[:n].reshape(n, 28, 28))
        write_idx(folder / f"{stem}-labels-idx1-ubyte.gz", labels[:n])
    return folder


def mnist_config(prefix, source, **solver):
    layers = [
        {"name": "mnist", "type": "MNISTData", "top": ["data", "label"],
         "include": {"phase": "TRAIN"}, "split": "train", "batch_size": 20,
         "transform": {"scale": 0.00390625}, "source": str(source)},
        {"name": "mnist", "type": "MNISTData", "top": ["data", "label"],
         "include": {"phase": "TEST"}, "split": "test", "batch_size": 20,
         "transform": {"scale": 0.00390625}, "source": str(source)},
        {"name": "ip1", "type": "InnerProduct", "bottom": "data", "top": "ip1",
         "num_output": 16},
        {"name": "relu1", "type": "ReLU", "bottom": "ip1", "top": "ip1"},
        {"name": "drop1", "type": "Dropout", "bottom": "ip1", "top": "ip1",
         "dropout_ratio": 0.2},
        {"name": "ip2", "type": "InnerProduct", "bottom": "ip1", "top": "ip2",
         "num_output": 10},
        {"name": "accuracy", "type": "Accuracy", "bottom": ["ip2", "label"],
         "top": "accuracy", "include": {"phase": "TEST"}},
        {"name": "loss", "type": "SoftmaxWithLoss", "bottom": ["ip2", "label"], "top": "loss"},
    ]
    s = {"type": "SGD", "base_lr": 0.05, "momentum": 0.9, "max_iter": 23, "snapshot": 7,
         "test_interval": 5, "test_iter": 3, "display": 1, "snapshot_prefix": str(prefix),
         "random_seed": 11, **solver}
    return {"name": "mnist-small", "solver": s, "net": {"layers": layers}}


def test_resume_through_mnist_shuffling_prefetch_and_dropout(mnist_data, tmp_path):
    source = mnist_subset(tmp_path / "mnist")
    ref = Solver(mnist_config(tmp_path / "ref", source), quiet=True).solve()
    Solver(mnist_config(tmp_path / "run", source), max_iter=17, quiet=True).solve()
    resumed = Solver(mnist_config(tmp_path / "run", source), quiet=True)
    resumed.solve(resume=tmp_path / "run_iter_14.state.npz")
    assert_same_state(final_state(resumed), final_state(ref))
    want, got = metrics(tmp_path / "ref"), metrics(tmp_path / "run")
    assert got == want
    assert len({r["accuracy"] for r in want if r["phase"] == "test"}) > 1


def test_a_different_seed_does_not_reproduce(tmp_path):
    """The resume tests can fail: another seed gives other losses."""
    a = Solver(config(tmp_path / "a", max_iter=4), quiet=True).solve()
    b = Solver(config(tmp_path / "b", max_iter=4, random_seed=8), quiet=True).solve()
    assert a.smoothed_loss != b.smoothed_loss


def test_snapshot_on_demand_at_the_end_and_every_n(tmp_path):
    s = Solver(config(tmp_path / "s", max_iter=7, snapshot=3), quiet=True)
    s.step(2)
    weights, state = s.snapshot()
    assert weights.name == "s_iter_2.weights.npz" and state.name == "s_iter_2.state.npz"
    s.solve()
    assert sorted(find_snapshots(tmp_path / "s")) == [2, 3, 6, 7]
    assert latest_state(tmp_path / "s") == tmp_path / "s_iter_7.state.npz"
    assert int(load_npz(latest_state(tmp_path / "s"))["iter"]) == 7


def test_snapshot_keep_prunes_older_snapshots(tmp_path):
    Solver(config(tmp_path / "k", max_iter=10, snapshot=2, snapshot_keep=2), quiet=True).solve()
    snaps = find_snapshots(tmp_path / "k")
    assert sorted(snaps) == [8, 10]
    assert all(set(v) == {"weights", "state"} for v in snaps.values())


def test_weights_fine_tune_starts_from_the_file_at_iteration_0(tmp_path, capsys):
    src = Solver(config(tmp_path / "src", max_iter=5), quiet=True).solve()
    weights = tmp_path / "src_iter_5.weights.npz"
    s = Solver(config(tmp_path / "ft", max_iter=5), weights=weights, quiet=True)
    assert s.iter == 0
    for a, b in zip(s.params, src.params):
        np.testing.assert_array_equal(a.blob.data, b.blob.data)
    assert all(not h.data.any() for hist in s.history for h in hist)


def test_weights_and_resume_together_is_an_error(tmp_path):
    Solver(config(tmp_path / "a", max_iter=2), quiet=True).solve()
    s = Solver(config(tmp_path / "b"), weights=tmp_path / "a_iter_2.weights.npz", quiet=True)
    with pytest.raises(ValueError, match="not both"):
        s.solve(resume=tmp_path / "a_iter_2.state.npz")


def test_state_file_given_as_weights_is_refused(tmp_path):
    Solver(config(tmp_path / "a", max_iter=2), quiet=True).solve()
    state = tmp_path / "a_iter_2.state.npz"
    with pytest.raises(WeightsFileError, match="--resume") as err:
        Solver(config(tmp_path / "b"), weights=state, quiet=True)
    assert str(state) in str(err.value)


def test_resume_with_another_solver_type_names_file_and_types(tmp_path):
    Solver(config(tmp_path / "a", type="Nesterov", max_iter=2), quiet=True).solve()
    state = tmp_path / "a_iter_2.state.npz"
    s = Solver(config(tmp_path / "b", type="SGD"), quiet=True)
    with pytest.raises(WeightsFileError) as err:
        s.solve(resume=state)
    assert str(state) in str(err.value) and "Nesterov" in str(err.value) \
        and "SGD" in str(err.value)


def test_resume_with_a_state_from_another_net(tmp_path):
    Solver(config(tmp_path / "a", max_iter=2), quiet=True).solve()
    state = tmp_path / "a_iter_2.state.npz"
    other = config(tmp_path / "b", layers=mlp_layers(hidden=12))
    with pytest.raises(WeightsFileError, match="different net") as err:
        Solver(other, quiet=True).solve(resume=state)
    assert str(state) in str(err.value) and "ip1/0" in str(err.value)


def test_resume_from_a_weights_file_says_it_is_not_a_state(tmp_path):
    Solver(config(tmp_path / "a", max_iter=2), quiet=True).solve()
    with pytest.raises(WeightsFileError, match="not a layerflow solver state"):
        Solver(config(tmp_path / "b"), quiet=True).solve(
            resume=tmp_path / "a_iter_2.weights.npz")


@pytest.fixture
def state_file(tmp_path):
    Solver(config(tmp_path / "a", max_iter=2), quiet=True).solve()
    return tmp_path / "a_iter_2.state.npz"


def corrupt(kind, path):
    raw = path.read_bytes()
    if kind == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("name: not an npz\n")
    elif kind == "flipped":            # one byte of array data changed: the CRC catches it
        info = zipfile.ZipFile(path).getinfo("weights/ip1/0.npy")
        off = info.header_offset
        name_len, extra_len = struct.unpack("<HH", raw[off + 26: off + 30])
        b = bytearray(raw)
        b[off + 30 + name_len + extra_len + info.compress_size - 1] ^= 0xFF
        path.write_bytes(bytes(b))
    elif kind == "npy":
        np.save(open(path, "wb"), np.zeros(3))
    elif kind == "pickle":
        np.savez(open(path, "wb"), x=np.array([{"a": 1}], dtype=object))
    elif kind == "foreign":
        np.savez(open(path, "wb"), x=np.zeros(3), y=np.ones(2))


@pytest.mark.parametrize("kind", ["truncated", "empty", "text", "flipped", "npy", "pickle",
                                  "foreign"])
def test_bad_state_file_is_a_clear_error_naming_it(tmp_path, state_file, kind, capsys):
    corrupt(kind, state_file)
    with pytest.raises(WeightsFileError) as err:
        Solver(config(tmp_path / "b"), quiet=True).solve(resume=state_file)
    assert str(err.value).startswith(str(state_file))
    cfg = tmp_path / "b.yaml"
    cfg.write_text(json.dumps(config(tmp_path / "c", max_iter=3)))
    assert main(["-q", "train", str(cfg), "--resume", str(state_file)]) == 1
    out = capsys.readouterr().err
    assert out.startswith(f"layerflow: error: {state_file}") and "Traceback" not in out


@pytest.mark.parametrize("kind", ["truncated", "foreign", "text"])
def test_bad_weights_file_is_a_clear_error_naming_it(tmp_path, kind):
    Solver(config(tmp_path / "a", max_iter=2), quiet=True).solve()
    weights = tmp_path / "a_iter_2.weights.npz"
    corrupt(kind, weights)
    with pytest.raises(WeightsFileError) as err:
        Solver(config(tmp_path / "b"), weights=weights, quiet=True)
    assert str(err.value).startswith(str(weights))


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "w.npz"
    save_npz_atomic(path, {"a/0": np.arange(3.0)})

    def boom(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        save_npz_atomic(path, {"a/0": np.zeros(1000)})
    np.testing.assert_array_equal(load_npz(path)["a/0"], np.arange(3.0))
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]       # no temporary left


def test_atomic_write_refuses_object_arrays(tmp_path):
    with pytest.raises(ValueError, match="pickle"):
        save_npz_atomic(tmp_path / "x.npz", {"a": np.array([{}], dtype=object)})


def test_snapshot_files_have_normal_permissions(tmp_path):
    save_npz_atomic(tmp_path / "p.npz", {"a": np.zeros(1)})
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "p.npz").stat().st_mode & 0o777 == 0o666 & ~mask


def test_stale_temporaries_of_a_killed_snapshot_are_removed(tmp_path):
    stale = tmp_path / ".s_iter_5.state.npz.abc123.tmp"
    stale.write_bytes(b"PK half a file")
    Solver(config(tmp_path / "s", max_iter=1), quiet=True).solve()
    assert not stale.exists()


def test_cli_resume_continues_and_fine_tune(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps(config(tmp_path / "c", max_iter=6, snapshot=3)))
    assert main(["-q", "train", str(cfg), "--max-iter", "3"]) == 0
    assert main(["-q", "train", str(cfg), "--resume", str(tmp_path / "c_iter_3.state.npz")]) == 0
    assert sorted(find_snapshots(tmp_path / "c")) == [3, 6]
    ref = Solver(load_yaml(cfg), quiet=True)
    ref.p.snapshot_prefix = str(tmp_path / "ref")
    ref.metrics_path = tmp_path / "ref_metrics.jsonl"
    ref.solve()
    got = load_npz(tmp_path / "c_iter_6.weights.npz")
    want = load_npz(tmp_path / "ref_iter_6.weights.npz")
    assert got.keys() == want.keys()
    for k in got:
        np.testing.assert_array_equal(got[k], want[k])


def test_snapshot_keep_leaves_later_snapshots_of_another_run_alone(tmp_path):
    Solver(config(tmp_path / "k", max_iter=12, snapshot=6), quiet=True).solve()
    Solver(config(tmp_path / "k", max_iter=6, snapshot=2, snapshot_keep=1), quiet=True).solve()
    assert sorted(find_snapshots(tmp_path / "k")) == [6, 12]
