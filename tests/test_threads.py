"""layerflow's own thread pool: every part runs, and an error surfaces only after all
parts have finished (none may still write a buffer when the caller moves on)."""
import threading
import time

import numpy as np
import pytest

from layerflow.kernels.cpu.threads import run_parallel


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


@pytest.mark.parametrize("shape", [(300, 200, 500), (500, 200, 300), (7, 3, 5)])
def test_product_split_into_slabs_equals_numpy(monkeypatch, shape):
    """Wide, tall (split by columns, by rows) and too small to split, over 3 threads."""
    import layerflow.kernels.cpu.threads as threads
    m, k, n = shape
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(m, k)), rng.normal(size=(k, n))
    out = np.full((m, n), np.nan)
    np.testing.assert_allclose(threads.matmul(a, b, out, 3), a @ b, rtol=1e-12, atol=1e-11)
