"""layerflow's own thread pool: every part runs, and an error surfaces only after all
parts have finished (none may still write a buffer when the caller moves on)."""
import threading
import time

import numpy as np
import pytest

from layerflow.kernels.cpu.threads import matmul, run_parallel


def test_every_part_runs_once_on_its_own_index():
    seen = []
    lock = threading.Lock()

    def part(t):
        with lock:
            seen.append(t)
    run_parallel(part, 4)
    assert sorted(seen) == [0, 1, 2, 3]


def test_an_error_waits_for_the_other_parts():
    finished = []

    def part(t):
        if t == 1:
            raise RuntimeError("part 1 failed")
        if t == 2:
            time.sleep(0.2)
            finished.append(t)
    with pytest.raises(RuntimeError, match="part 1 failed"):
        run_parallel(part, 3)
    assert finished == [2]


def test_split_product_equals_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 200)), rng.normal(size=(200, 500))
    out = np.empty((300, 500))
    np.testing.assert_allclose(matmul(a, b, out), a @ b, rtol=1e-12)
