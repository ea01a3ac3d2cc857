"""One thread setup for Numba's pool and the BLAS, so that they do not fight over the cores.

Convolutional layers alternate Numba `prange` kernels (im2col, layout moves, pooling) with
large BLAS products (numpy's OpenBLAS). Both keep a pool of one thread per core, and
OpenBLAS's threads spin for a while after each product: running a parallel Numba kernel
right after a GEMM then puts 2 x cores busy threads on the cores, which measured up to
2.5x slower than either alone. `configure_threads()` fixes the split once per process:

- Numba: `numba.set_num_threads(n)` with n = the CPU count (or LAYERFLOW_NUM_THREADS);
- BLAS: the same n, through threadpoolctl when it is installed (OpenBLAS would otherwise
  also use every core, which is what we want; the limit only matters when the user sets
  LAYERFLOW_NUM_THREADS or OMP_NUM_THREADS lower).

The measured choice and the numbers behind it are in docs/convolution.md.
"""
import os

import numpy as np

_configured = False


def num_threads():
    """Threads layerflow uses: LAYERFLOW_NUM_THREADS, else OMP_NUM_THREADS, else the CPUs."""
    for var in ("LAYERFLOW_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def configure_threads(n=None):
    """Set Numba's and the BLAS's thread counts once (idempotent unless `n` is given)."""
    global _configured
    if _configured and n is None:
        return
    _configured = True
    import numba
    if "NUMBA_THREADING_LAYER" not in os.environ:
        numba.config.THREADING_LAYER = "workqueue"   # takes effect before the first launch
    n = n or num_threads()
    n = max(1, min(n, numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(n)
    blas = os.environ.get("LAYERFLOW_BLAS_THREADS", "")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(int(blas) if blas.isdigit() else 1, user_api="blas")


_pool = None
_SPLIT_FLOPS = 2e6        # products smaller than this run whole on the calling thread


def matmul(a, b, out):
    """out = a @ b (2-D), split over the threads when the product is large.

    OpenBLAS runs single-threaded (see configure_threads); a large product is cut into
    `num_threads()` slabs of out's longer side, each one BLAS call, run by a small pool of
    Python threads (numpy releases the GIL inside BLAS). These threads sleep on a queue
    when idle, so they do not steal the cores from Numba's pool or from other processes."""
    m, n = out.shape
    parts = num_threads() if _configured else 1
    if parts < 2 or 2.0 * m * n * a.shape[1] < _SPLIT_FLOPS:
        return np.matmul(a, b, out=out)
    pool = _get_pool(parts - 1)
    jobs = []
    if n >= m:
        step = -(-n // parts)
        for s in range(step, n, step):
            jobs.append(pool.submit(np.matmul, a, b[:, s:s + step], out=out[:, s:s + step]))
        np.matmul(a, b[:, :step], out=out[:, :step])
    else:
        step = -(-m // parts)
        for s in range(step, m, step):
            jobs.append(pool.submit(np.matmul, a[s:s + step], b, out=out[s:s + step]))
        np.matmul(a[:step], b, out=out[:step])
    for job in jobs:
        job.result()
    return out


def _get_pool(workers):
    global _pool
    if _pool is None or _pool._max_workers < workers:
        from concurrent.futures import ThreadPoolExecutor
        _pool = ThreadPoolExecutor(max(workers, 1), thread_name_prefix="layerflow")
    return _pool


def run_parallel(fn, parts):
    """fn(0) .. fn(parts - 1), fn(0) on the calling thread and the rest on the pool; the
    functions must release the GIL for their heavy work (BLAS, nogil kernels) and write
    only what their index owns."""
    if parts <= 1:
        fn(0)
        return
    pool = _get_pool(parts - 1)
    jobs = [pool.submit(fn, t) for t in range(1, parts)]
    try:
        fn(0)
    finally:
        for job in jobs:
            job.result()
