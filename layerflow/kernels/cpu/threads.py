"""Applying a net's thread settings, and layerflow's own chunk threads.

The settings are a value (`layerflow.runtime.Runtime`: threads, blas_threads) that each Net
holds; `apply(runtime)` puts them in force before each of the net's passes, so that two nets
with different settings in one process each run with their own. Only what differs from the
settings in force is changed (Numba's count is per calling thread and cheap to set;
OpenBLAS's limit is process-wide and goes through threadpoolctl).

OpenBLAS's worker threads and GNU OpenMP's (Numba's default `omp` threading layer) spin
while they wait for work. On a machine shared with other jobs a spinning pool collapses:
LeNet's training iteration went from ~50 ms to 240-760 ms with either pool at 2 threads
(table in docs/convolution.md). So Numba runs on its `workqueue` layer (workers sleep when
idle) unless NUMBA_THREADING_LAYER is set: a process-wide choice made once, at import,
before any parallel kernel starts. The convolution layers parallelise themselves:
`run_parallel` hands chunks to a pool of sleeping Python threads plus the caller, whose heavy
work (BLAS products, `nogil` kernels) runs without the GIL; `matmul` splits one large product
the same way.
"""
import concurrent.futures
import os

import numba
import numpy as np

if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"      # takes effect before the first launch

_blas_in_force = None       # OpenBLAS's limit as last set: a fact about the process


def apply(runtime):
    """Put `runtime.threads` (Numba) and `runtime.blas_threads` (numpy's OpenBLAS) in force."""
    n = max(1, min(runtime.threads, numba.config.NUMBA_NUM_THREADS))
    if numba.get_num_threads() != n:
        numba.set_num_threads(n)
    set_blas_threads(runtime.blas_threads or runtime.threads)


def set_blas_threads(limit):
    """Limit numpy's OpenBLAS (only it: a BLAS another library brought, such as PyTorch's
    MKL, keeps its own) to `limit` threads, when that is not already in force."""
    global _blas_in_force
    if limit != _blas_in_force:
        from threadpoolctl import ThreadpoolController
        ThreadpoolController().select(internal_api="openblas").limit(limits=limit)
        _blas_in_force = limit


SPLIT_FLOPS = 2e6         # products smaller than this run whole on the calling thread


def matmul(a, b, out, parts=1):
    """out = a @ b (2-D), cut into `parts` slabs of out's longer side when the product is
    large, each one BLAS call run by a small pool of Python threads (numpy releases the GIL
    inside BLAS). Callers pass parts > 1 only where OpenBLAS is held at one thread
    (`Runtime.product_parts`); these threads sleep on a queue when idle, so they do not
    steal the cores from Numba's pool or from other processes."""
    m, n = out.shape
    if parts < 2 or 2.0 * m * n * a.shape[1] < SPLIT_FLOPS:
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


_pool = None


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
        concurrent.futures.wait(jobs)      # all done before anything is raised
        for job in jobs:
            job.result()
