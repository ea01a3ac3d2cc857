"""Launch geometry and small device helpers shared by the CUDA kernels.

Elementwise kernels run a grid-stride loop, so the grid is capped (`MAX_BLOCKS`) and one
launch covers any size; `grid(n)` gives (blocks, threads) for n elements. `flat(a)` is the
1-D view of a C-contiguous device array (kernels index flat where the CPU twin does).

In Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1: every thread a Python thread, about
5,000 a second) the blocks are 32 threads and the grid at most 4 blocks, so that the tests'
small shapes cost little and still cover partial blocks and the grid-stride loop's wrap.
Every kernel is written for any geometry; only these two numbers change."""
import functools

import numpy as np

import numba
from numba import cuda

SIMULATOR = bool(numba.config.ENABLE_CUDASIM)
THREADS = 32 if SIMULATOR else 256        # threads per block of the 1-D kernels
MAX_BLOCKS = 4 if SIMULATOR else 4096     # grid-stride loops cover the rest


def grid(n, threads=THREADS):
    """(blocks, threads) for a grid-stride loop over n elements (at least one block)."""
    return max(1, min((n + threads - 1) // threads, MAX_BLOCKS)), threads


def flat(a):
    return a.reshape(a.size)


@functools.cache
def block_sum_kernel(dtype, threads=THREADS):
    """A one-block kernel `k(x, out, slot)`: out[slot] = sum of the flat array x, in a fixed
    order (per-thread strided partial sums, then a shared-memory tree), so that the same
    input always gives the same bits. `dtype` is the accumulator's (that of `out`)."""
    nt = numba.from_dtype(dtype)

    @cuda.jit
    def kernel(x, out, slot):
        buf = cuda.shared.array(threads, nt)
        t = cuda.threadIdx.x
        s = out.dtype.type(0)
        i = t
        while i < x.size:
            s += x[i]
            i += threads
        buf[t] = s
        cuda.syncthreads()
        half = threads // 2
        while half > 0:
            if t < half:
                buf[t] += buf[t + half]
            cuda.syncthreads()
            half //= 2
        if t == 0:
            out[slot] = buf[0]

    return kernel


@cuda.jit(device=True)
def tree_sum(buf, t):
    """buf[0] = buf[0] + ... + buf[THREADS - 1], by the whole block in a fixed order (a
    shared-memory tree), called by every thread t after storing its partial in buf[t]."""
    cuda.syncthreads()
    half = THREADS // 2
    while half > 0:
        if t < half:
            buf[t] += buf[t + half]
        cuda.syncthreads()
        half //= 2


@cuda.jit(device=True)
def tree_min(buf, t):
    """buf[0] = the minimum of buf[0 .. THREADS - 1], as tree_sum."""
    cuda.syncthreads()
    half = THREADS // 2
    while half > 0:
        if t < half:
            buf[t] = min(buf[t], buf[t + half])
        cuda.syncthreads()
        half //= 2


@cuda.jit(device=True)
def reduce_sum_count_first(total, count, first, t):
    """The block's shared-memory tree, called by every thread t after its partials are
    stored: total and count summed and first the minimum, into index 0, in a fixed order
    (the loss and accuracy kernels' one-block reductions)."""
    cuda.syncthreads()
    half = THREADS // 2
    while half > 0:
        if t < half:
            total[t] += total[t + half]
            count[t] += count[t + half]
            first[t] = min(first[t], first[t + half])
        cuda.syncthreads()
        half //= 2


def f64(*values):
    """Scalars as numpy float64: a kernel computes with them in float64 as the CPU loop does
    with Python floats. (A Python float would do on the GPU, but numpy 2 treats it as weak in
    the simulator, where float * float32 stays float32.)"""
    return tuple(np.float64(v) for v in values)


def scalar(v):
    """A coefficient passed on as the CPU kernel would see it: a Python float as float64
    (see f64), a numpy scalar unchanged (a float32 one keeps float32 nets in float32)."""
    return np.float64(v) if isinstance(v, (float, int)) and not isinstance(v, bool) else v


_scratch = {}


def scratch(count, dtype):
    """A small device buffer for results a kernel hands back to the host (a loss, counts),
    made once per (count, dtype) and reused, so that these kernels keep their CPU twins'
    signatures. Read back right after use (the default stream orders it)."""
    key = (count, np.dtype(dtype).str)
    if key not in _scratch:
        _scratch[key] = cuda.device_array(count, dtype)
    return _scratch[key]
