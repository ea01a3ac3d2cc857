"""Data-parallel training over MPI (layerflow/parallel): `mpirun -n 2` subprocesses.

- 2 ranks with batch 32 give the weights of 1 process with batch 64 after 50 iterations
  (SGD with momentum and Adam), as the ranks' data slices are exactly the big batches;
- SIGKILL of one rank ends the job within 10 s, and the last snapshot resumes, on 2 ranks,
  to the weights of an uninterrupted run; resuming on another number of ranks is refused;
- ranks that built different nets, and an error on one rank, end the job with a message
  naming the rank; a config that asks for MPI without a launcher or without mpi4py says so.
Skipped only where no `mpirun` is installed (the `dev` extra brings mpich and mpi4py)."""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from layerflow.io.weights import load_npz
from layerflow.solvers.base import latest_state

ROOT = Path(__file__).resolve().parents[1]
MPIRUN = shutil.which("mpirun") or shutil.which("mpirun", path=str(Path(sys.executable).parent))


def _launcher_options():
    """Open MPI refuses root without --allow-run-as-root and more ranks than cores without
    --oversubscribe; MPICH's Hydra needs neither."""
    if MPIRUN is None:
        return []
    version = subprocess.run([MPIRUN, "--version"], capture_output=True, text=True).stdout
    if "Open MPI" not in version and "OpenRTE" not in version:
        return []
    return ["--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])


LAUNCH = [MPIRUN] + _launcher_options() if MPIRUN else []

pytestmark = [
    pytest.mark.skipif(MPIRUN is None, reason="no mpirun on PATH (pip install mpich mpi4py, "
                                              "or layerflow[dev])"),
    pytest.mark.skipif(sys.platform != "linux", reason="uses /proc and POSIX signals"),
]


def env():
    e = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", LAYERFLOW_NUM_THREADS="1")
    for var in ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_RANK",
                "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_RANK"):
        e.pop(var, None)
    return e


TRAIN = [sys.executable, "-m", "layerflow.cli", "train"]


def run(args, ranks=None, cwd=None, timeout=120):
    cmd = (LAUNCH + ["-n", str(ranks)] if ranks else []) + TRAIN + [str(a) for a in args]
    return subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True,
                          timeout=timeout)


def check(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """640 records (10 big batches per epoch: 50 iterations cross 4 epoch boundaries)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(640, 20)).astype(np.float32)
    y = np.argmax(x @ rng.normal(size=(20, 10)) + rng.normal(size=(640, 10)), 1)
    path = tmp_path_factory.mktemp("data") / "data.npz"
    np.savez(path, data=x, label=y.astype(np.float32))
    return path


def config(folder, data, batch, solver="SGD", max_iter=50, snapshot=0, extra=""):
    rule = {"SGD": "base_lr: 0.05\n  momentum: 0.9",
            "Adam": "base_lr: 0.01\n  momentum: 0.9\n  momentum2: 0.999"}[solver]
    text = f"""name: mpi-test
solver:
  type: {solver}
  {rule}
  weight_decay: 0.001
  max_iter: {max_iter}
  display: 10
  snapshot: {snapshot}
  snapshot_keep: 3
  snapshot_prefix: {folder}/snap/run
  random_seed: 3
  {extra}
net:
  layers:
    - {{name: data, type: NPZData, top: [data, label], source: {data}, batch_size: {batch}}}
    - {{name: ip1, type: InnerProduct, bottom: data, top: ip1, num_output: 32,
       weight_filler: {{type: xavier}}}}
    - {{name: relu1, type: ReLU, bottom: ip1, top: ip1}}
    - {{name: ip2, type: InnerProduct, bottom: ip1, top: ip2, num_output: 10,
       weight_filler: {{type: xavier}}}}
    - {{name: loss, type: SoftmaxWithLoss, bottom: [ip2, label], top: loss}}
"""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "train.yaml"
    path.write_text(text)
    return path


def weights(folder, it):
    return load_npz(folder / "snap" / f"run_iter_{it}.weights.npz")


# -- the data slices, in process -------------------------------------------------------------
def test_shards_are_the_single_process_batches(data):
    from layerflow.net import Net
    def batches(batch, rank, size, n):
        net = Net({"layers": [{"name": "data", "type": "NPZData", "top": ["data", "label"],
                               "source": str(data), "batch_size": batch, "prefetch": 0}]},
                  seed=7)
        layer = net.layers[0]
        if size > 1:
            layer.set_shard(rank, size)
        out = []
        for _ in range(n):
            net.forward()
            out.append(net.blobs["data"].data.copy())
        return out
    whole = batches(64, 0, 1, 25)                       # 2.5 epochs
    parts = [batches(32, r, 2, 25) for r in range(2)]
    for i, big in enumerate(whole):
        mine = np.concatenate([parts[0][i], parts[1][i]])
        # Same records: rows of the big batch, rank 0 the even ones, rank 1 the odd ones.
        np.testing.assert_array_equal(mine[:32], big[0::2])
        np.testing.assert_array_equal(mine[32:], big[1::2])


# -- equivalence -----------------------------------------------------------------------------
@pytest.mark.parametrize("solver, batch, iter_size", [("SGD", 32, 1), ("Adam", 32, 1),
                                                      ("SGD", 16, 2)])
def test_two_ranks_equal_one_process_with_twice_the_batch(tmp_path, data, solver, batch,
                                                          iter_size):
    """With iter_size 2 the buckets start during the second pass's backward."""
    one = config(tmp_path / "one", data, 64, solver, snapshot=25)
    two = config(tmp_path / "two", data, batch, solver, snapshot=25,
                 extra=f"iter_size: {iter_size}")
    check(run([one]))
    out = check(run([two], ranks=2)).stdout
    passes = f" x iter_size {iter_size}" if iter_size > 1 else ""
    assert f"2 ranks, batch {batch} per rank{passes}, global batch 64" in out
    a, b = weights(tmp_path / "one", 50), weights(tmp_path / "two", 50)
    assert set(a) == set(b)
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=1e-5, atol=2e-6, err_msg=key)
    # The weights kept moving: a run that did nothing would not pass for the wrong reason.
    half = weights(tmp_path / "one", 25)
    assert max(np.abs(half[k] - a[k]).max() for k in a) > 1e-2


# -- failures --------------------------------------------------------------------------------
def _ranks_of(pid):
    """{rank: pid} of the python processes under the launcher `pid` (from /proc)."""
    found, todo = {}, [pid]
    while todo:
        p = todo.pop()
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
            environ = Path(f"/proc/{p}/environ").read_bytes().split(b"\0")
            is_python = b"layerflow.cli" in Path(f"/proc/{p}/cmdline").read_bytes()
        except OSError:
            continue
        todo.extend(int(c) for c in children)
        for item in environ:
            for var in (b"PMI_RANK=", b"OMPI_COMM_WORLD_RANK="):
                if is_python and item.startswith(var):
                    found[int(item[len(var):])] = p
    return found


def test_sigkill_of_one_rank_ends_the_job_and_the_snapshot_resumes(tmp_path, data):
    cfg = config(tmp_path / "k", data, 32, "Adam", max_iter=1_000_000, snapshot=20)
    cmd = LAUNCH + ["-n", "2"] + TRAIN + [str(cfg)]
    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        seen = 0
        for line in proc.stdout:
            seen += "Snapshotting" in line
            if seen >= 3:
                break
        ranks = _ranks_of(proc.pid)
        assert set(ranks) == {0, 1}, ranks
        os.kill(ranks[1], signal.SIGKILL)
        t0 = time.monotonic()
        proc.stdout.close()
        rc = proc.wait(timeout=30)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc != 0
    assert elapsed < 10, f"the job took {elapsed:.1f} s to end after a rank was killed"
    state = latest_state(tmp_path / "k" / "snap" / "run")
    assert state is not None
    arrays = load_npz(state)
    assert int(arrays["mpi/world_size"]) == 2
    it = int(arrays["iter"])
    # Resume on 2 ranks for 20 more iterations: the weights of an uninterrupted run.
    check(run([cfg, "--resume", state, "--max-iter", it + 20], ranks=2))
    resumed = weights(tmp_path / "k", it + 20)
    straight = config(tmp_path / "s", data, 32, "Adam", max_iter=it + 20, snapshot=20)
    check(run([straight], ranks=2))
    expected = weights(tmp_path / "s", it + 20)
    for key in expected:
        np.testing.assert_array_equal(resumed[key], expected[key], err_msg=key)
    # Another number of ranks is refused, in one line.
    r = run([cfg, "--resume", state, "--max-iter", it + 40])
    assert r.returncode == 1
    assert "written by a run on 2 MPI rank(s); this run has 1" in r.stderr


def test_sigint_stops_every_rank_at_the_same_iteration_with_a_snapshot(tmp_path, data):
    """mpirun forwards SIGINT to the ranks, which may see it at different iterations: they
    agree on it (a MAX allreduce), snapshot together and stop cleanly."""
    cfg = config(tmp_path / "i", data, 32, max_iter=1_000_000, snapshot=50)
    proc = subprocess.Popen(LAUNCH + ["-n", "2"] + TRAIN + [str(cfg)], env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in proc.stdout:
            if "Snapshotting" in line:
                break
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out[-3000:]
    assert "Optimization stopped early at iteration" in out
    stopped = int(out.split("Optimization stopped early at iteration ")[1].split()[0])
    state = latest_state(tmp_path / "i" / "snap" / "run")
    assert state.name == f"run_iter_{stopped}.state.npz"
    assert int(load_npz(state)["mpi/world_size"]) == 2


def test_ranks_with_different_nets_are_refused(tmp_path, data):
    a = config(tmp_path / "a", data, 32)
    b = config(tmp_path / "b", data, 16)
    cmd = LAUNCH + ["-n", "1"] + TRAIN + [str(a), ":", "-n", "1"] + TRAIN + [str(b)]
    r = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "rank 1 built a different net or solver than rank 0" in r.stderr, r.stderr[-2000:]


def test_an_error_on_one_rank_ends_the_job(tmp_path, data):
    good = config(tmp_path / "a", data, 32)
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace(str(data), str(tmp_path / "missing.npz")))
    cmd = LAUNCH + ["-n", "1"] + TRAIN + [str(good), ":", "-n", "1"] + TRAIN + [str(bad)]
    t0 = time.monotonic()
    r = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert time.monotonic() - t0 < 60
    assert "rank 1 of 2:" in r.stderr and "missing.npz" in r.stderr, r.stderr[-2000:]


def test_mpi_asked_for_without_a_launcher(tmp_path, data):
    cfg = config(tmp_path / "a", data, 32, extra="mpi: true")
    r = run([cfg])
    assert r.returncode == 1
    assert "'mpi: true'" in r.stderr and "mpirun" in r.stderr


def test_launched_by_mpi_without_mpi4py(tmp_path, data):
    cfg = config(tmp_path / "a", data, 32)
    code = ("import sys; sys.modules['mpi4py'] = None; from layerflow.cli import main; "
            f"sys.exit(main(['train', {str(cfg)!r}]))")
    r = subprocess.run([sys.executable, "-c", code], env=dict(env(), PMI_RANK="0", PMI_SIZE="2"),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "PMI_RANK is set" in r.stderr and "mpi4py cannot be imported" in r.stderr


def test_buckets_follow_backward_order():
    """In process, no MPI: LeNet's buckets (1 MiB) and the layers that finish them."""
    from layerflow.net import Net
    from layerflow.parallel.allreduce import _make_buckets
    layers = """
- {name: input, type: Input, top: [data, label], shape: [[8, 1, 28, 28], [8]]}
- {name: conv1, type: Convolution, bottom: data, top: conv1, num_output: 20, kernel_size: 5}
- {name: pool1, type: Pooling, bottom: conv1, top: pool1, pool: MAX, kernel_size: 2, stride: 2}
- {name: conv2, type: Convolution, bottom: pool1, top: conv2, num_output: 50, kernel_size: 5}
- {name: pool2, type: Pooling, bottom: conv2, top: pool2, pool: MAX, kernel_size: 2, stride: 2}
- {name: ip1, type: InnerProduct, bottom: pool2, top: ip1, num_output: 500}
- {name: relu1, type: ReLU, bottom: ip1, top: ip1}
- {name: ip2, type: InnerProduct, bottom: ip1, top: ip2, num_output: 10}
- {name: loss, type: SoftmaxWithLoss, bottom: [ip2, label], top: loss}
"""
    import yaml
    net = Net({"name": "lenet", "layers": yaml.safe_load(layers)})
    buckets = _make_buckets(net, net.learnable_params(), 1 << 20)
    names = [[net.layer_names[b.ready_at]] + [b.size] for b in buckets]
    # ip2 and ip1's weight (1.6 MB) fill the first; the rest of ip1 and conv2 the second,
    # ready once conv2's backward ran; conv1, whose backward is the last, alone.
    assert names == [["ip1", 5010 + 400000], ["conv2", 500 + 25050], ["conv1", 520]]
    assert sum(b.size for b in buckets) == sum(p.blob.count for p in net.learnable_params())
