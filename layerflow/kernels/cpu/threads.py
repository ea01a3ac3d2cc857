"""One thread setup for Numba, the BLAS and layerflow's own chunk threads, so that they do
not fight over the cores. Every Net applies it when it is built.

OpenBLAS's worker threads and GNU OpenMP's (Numba's default `omp` threading layer) spin
while they wait for work. On a machine shared with other jobs a spinning pool collapses:
LeNet's training iteration went from ~50 ms to 240-760 ms with either pool at 2 threads
(table in docs/convolution.md). `configure_threads(n)` therefore sets, once per process:

- n = LAYERFLOW_NUM_THREADS, else OMP_NUM_THREADS, else the CPUs this process may use;
- Numba: n threads on the `workqueue` layer (its workers sleep when idle), unless
  NUMBA_THREADING_LAYER is set; used by the pooling kernels' `prange` loops;
- OpenBLAS (through threadpoolctl; LAYERFLOW_BLAS_THREADS overrides): 1 thread in a net
  with layers that run their own threads (Convolution, Deconvolution, Pooling), n otherwise;
- the convolution layers parallelise themselves: `run_parallel` hands chunks of images to
  n - 1 pool threads plus the caller, whose heavy work (BLAS products, `nogil` kernels)
  runs without the GIL; `matmul` splits one large product the same way.
"""
import concurrent.futures
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


def configure_threads(n=None, own_threads=False):
    """Set Numba's thread count (once, unless `n` is given) and OpenBLAS's (every call).

    `own_threads`: the net has layers that run their own threads (Convolution, Pooling);
    OpenBLAS then gets 1 thread so the two never oversubscribe the cores. Otherwise it gets
    all `n`: the dense layers' products are most of an MLP's time, and OpenBLAS's second
    thread makes them 1.6x faster here (tools/bench_mlp.py). LAYERFLOW_BLAS_THREADS
    overrides both."""
    global _configured, _threads
    if not _configured or n is not None:
        _configured = True
        import numba
        if "NUMBA_THREADING_LAYER" not in os.environ:
            numba.config.THREADING_LAYER = "workqueue"   # takes effect before the first launch
        _threads = n or num_threads()
        numba.set_num_threads(max(1, min(_threads, numba.config.NUMBA_NUM_THREADS)))
    blas = os.environ.get("LAYERFLOW_BLAS_THREADS", "")
    limit = int(blas) if blas.isdigit() else (1 if own_threads else _threads)
    global _blas_limit
    if limit != _blas_limit:
        _blas_limit = limit
        from threadpoolctl import ThreadpoolController
        # OpenBLAS only (numpy's): a BLAS another library brought (PyTorch's MKL) keeps its own.
        ThreadpoolController().select(internal_api="openblas").limit(limits=limit)


_blas_limit = None
_pool = None
SPLIT_FLOPS = 2e6         # products smaller than this run whole on the calling thread


def matmul(a, b, out):
    """out = a @ b (2-D), split over the threads when the product is large.

    OpenBLAS runs single-threaded (see configure_threads); a large product is cut into
    `num_threads()` slabs of out's longer side, each one BLAS call, run by a small pool of
    Python threads (numpy releases the GIL inside BLAS). These threads sleep on a queue
    when idle, so they do not steal the cores from Numba's pool or from other processes."""
    m, n = out.shape
    parts = num_threads() if single_threaded_blas() else 1   # a threaded BLAS splits itself
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


def single_threaded_blas():
    """Whether OpenBLAS is held at one thread (conv nets), so that layerflow's own threads
    should share out the products."""
    return _blas_limit == 1


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
