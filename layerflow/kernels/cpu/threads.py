"""One thread setup for Numba, the BLAS and layerflow's own chunk threads, so that they do
not fight over the cores.

OpenBLAS's worker threads and GNU OpenMP's (Numba's default `omp` threading layer) spin
while they wait for work. On a machine shared with other jobs a spinning pool collapses:
LeNet's training iteration went from ~50 ms to 240-760 ms with either pool at 2 threads
(table in docs/convolution.md). `configure_threads(n)` therefore sets, once per process:

- n = LAYERFLOW_NUM_THREADS, else OMP_NUM_THREADS, else the CPUs this process may use;
- Numba: n threads on the `workqueue` layer (its workers sleep when idle), unless
  NUMBA_THREADING_LAYER is set; used by the pooling kernels' `prange` loops;
- OpenBLAS: 1 thread (through threadpoolctl; LAYERFLOW_BLAS_THREADS overrides);
- the convolution layers parallelise themselves: `run_parallel` hands chunks of images to
  n - 1 pool threads plus the caller, whose heavy work (BLAS products, `nogil` kernels)
  runs without the GIL; `matmul` splits one large product the same way.
"""
import os

import numpy as np

_configured = False
_threads = None


def num_threads():
    """Threads layerflow uses: as configured, else LAYERFLOW_NUM_THREADS, else
    OMP_NUM_THREADS, else the CPUs."""
    if _threads is not None:
        return _threads
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
    global _configured, _threads
    if _configured and n is None:
        return
    _configured = True
    import numba
    if "NUMBA_THREADING_LAYER" not in os.environ:
        numba.config.THREADING_LAYER = "workqueue"   # takes effect before the first launch
    n = n or num_threads()
    _threads = n
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
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
