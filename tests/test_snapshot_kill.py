"""Kill tests: `layerflow train` in a subprocess, killed with SIGKILL at random moments and
once while a snapshot is being written, always leaves a loadable latest snapshot, and
resuming from it reproduces the uninterrupted run exactly (metrics and weights, bit for
bit). SIGINT stops cleanly with a snapshot of the iteration it stopped at."""
import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from layerflow.cli import main
from layerflow.io.weights import load_npz
from layerflow.solvers.base import latest_state

ROOT = Path(__file__).resolve().parents[1]
CONFIG = Path(__file__).with_suffix(".yaml")
MAX_ITER = 100
PACE = 0.01       # s added to each snapshot file's fsync: the run lasts ~1 s even on tmpfs

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="uses /proc and POSIX signals")


class Run:
    """`python -m layerflow.cli train CONFIG [args]` in `cwd`, its stdout read by a thread."""

    def __init__(self, cwd, *args, slow_fsync=None):
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        if slow_fsync:
            env["LAYERFLOW_TEST_SLOW_FSYNC"] = str(slow_fsync)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "layerflow.cli", "train", str(CONFIG), *map(str, args)],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines, self.log = queue.Queue(), []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text, timeout=60):
        """Read output until a line containing `text`; False if the process ended first."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                return False
            self.log.append(line)
            if text in line:
                return True
        raise AssertionError(f"no '{text}' in {timeout} s:\n" + "".join(self.log[-20:]))

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=60)


def records(folder):
    lines = (folder / "snap" / "kill_metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(l).items() if k != "iter_per_s"} for l in lines]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run, in this process."""
    folder = tmp_path_factory.mktemp("ref")
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        assert main(["-q", "train", str(CONFIG)]) == 0
    finally:
        os.chdir(cwd)
    return folder


def check_latest_loads(folder):
    """(state path, iteration) of the newest snapshot, after checking both files load;
    (None, -1) when the run was killed before its first snapshot."""
    state = latest_state(folder / "snap" / "kill")
    if state is None:
        return None, -1
    arrays = load_npz(state)
    it = int(arrays["iter"])
    assert state.name == f"kill_iter_{it}.state.npz"
    load_npz(folder / "snap" / f"kill_iter_{it}.weights.npz")
    return state, it


def finish_and_compare(folder, state, reference):
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        resume = ["--resume", str(state)] if state else []
        assert main(["-q", "train", str(CONFIG), *resume]) == 0
    finally:
        os.chdir(cwd)
    assert records(folder) == records(reference)
    got = load_npz(folder / "snap" / f"kill_iter_{MAX_ITER}.state.npz")
    want = load_npz(reference / "snap" / f"kill_iter_{MAX_ITER}.state.npz")
    for key in want:
        if key.startswith(("weights/", "history/", "rng/", "layer/")):
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_sigkill_at_random_moments_then_resume_is_exact(tmp_path, reference):
    """Three kills, each at a random iteration plus a random fraction of a snapshot's time
    (fsync dominates this run, so most kills land inside a snapshot write)."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    state, it, kills = None, -1, 0
    for _ in range(3):
        run = Run(tmp_path, *(["--resume", state] if state else []), slow_fsync=PACE)
        target = rng.randrange(max(it, 0), max(it, 0) + 20)
        assert run.wait_for(f"Iteration {target} ("), f"seed {seed}"
        time.sleep(rng.uniform(0.0, 0.05))
        run.kill()
        state, new_it = check_latest_loads(tmp_path)
        assert new_it >= it, f"seed {seed}: the latest snapshot went back"
        if new_it == MAX_ITER:     # this reader lagged behind the run (a loaded machine)
            break
        kills += 1
        it = new_it
    assert kills, f"seed {seed}: every run ended before its kill"
    finish_and_compare(tmp_path, state, reference)


@pytest.mark.parametrize("writing", ["weights", "state"])
def test_sigkill_while_writing_a_snapshot_leaves_the_previous_one(tmp_path, reference,
                                                                  writing):
    run = Run(tmp_path, slow_fsync=0.3)
    # files fsync'ed in order: weights 5, state 5, weights 10, state 10, ...
    for _ in range(3 if writing == "weights" else 4):
        assert run.wait_for("FSYNC")
    assert f"kill_iter_10.{writing}.npz" in run.log[-1]
    run.kill()
    tmp = list((tmp_path / "snap").glob(f".kill_iter_10.{writing}.npz.*.tmp"))
    assert tmp, "the kill did not land during the write"
    state, it = check_latest_loads(tmp_path)
    assert it == 5                      # snapshot 10 was being written: 5 stays the latest
    finish_and_compare(tmp_path, state, reference)
    assert not list((tmp_path / "snap").glob(".kill_iter_*.tmp"))   # cleaned on resume


def test_sigint_stops_with_a_snapshot_of_that_iteration(tmp_path, reference):
    run = Run(tmp_path, slow_fsync=PACE)
    assert run.wait_for("Iteration 20,")
    assert run.kill(signal.SIGINT) == 0
    run.wait_for("Optimization stopped early")
    stopped = [l for l in run.log if "SIGINT received at iteration" in l]
    assert stopped, "".join(run.log[-10:])
    it = int(stopped[0].split("iteration ")[1].split(":")[0])
    state, latest = check_latest_loads(tmp_path)
    assert latest == it and it < MAX_ITER
    finish_and_compare(tmp_path, state, reference)
