"""Reductions the solver runs over params on the device, the CUDA twins of
kernels/cpu/solver_norms.py: sum of squares (global gradient norm for clipping, and the
non-finite guard: non-finite when any element is), sum of absolute values, all-finite.

Each writes a float64 into out[slot] of a device array the caller owns, so that the sums
of all params stay on the device until the solver reads them once (`slots_total` adds the
slots up there too). Called as the CPU twins are, without `out`, each returns the number
(through a one-element device buffer made once: a read-back per call). One block walks the
array in a fixed order: the same bits every run."""
import math

import numpy as np
from numba import cuda, float64

from .launch import THREADS, block_sum_kernel, flat, scratch, tree_sum


@cuda.jit
def _sumsq(x, out, slot):
    buf = cuda.shared.array(THREADS, float64)
    t = cuda.threadIdx.x
    s = float64(0)
    i = t
    while i < x.size:
        v = float64(x[i])
        s += v * v
        i += THREADS
    buf[t] = s
    tree_sum(buf, t)
    if t == 0:
        out[slot] = buf[0]


@cuda.jit
def _asum(x, out, slot):
    buf = cuda.shared.array(THREADS, float64)
    t = cuda.threadIdx.x
    s = float64(0)
    i = t
    while i < x.size:
        s += abs(float64(x[i]))
        i += THREADS
    buf[t] = s
    tree_sum(buf, t)
    if t == 0:
        out[slot] = buf[0]


@cuda.jit
def _non_finite(x, out, slot):
    buf = cuda.shared.array(THREADS, float64)
    t = cuda.threadIdx.x
    s = float64(0)
    i = t
    while i < x.size:
        if not math.isfinite(x[i]):
            s += 1.0
        i += THREADS
    buf[t] = s
    tree_sum(buf, t)
    if t == 0:
        out[slot] = buf[0]


def _run(kernel, x, out, slot):
    """Launch one reduction into out[slot]; without `out`, return the number."""
    if out is not None:
        kernel[1, THREADS](flat(x), out, slot)
        return None
    work = scratch(1, np.float64)
    kernel[1, THREADS](flat(x), work, 0)
    return float(work.copy_to_host()[0])


def sumsq(x, out=None, slot=0):
    """out[slot] = sum of x^2 (float64); returns it when `out` is None."""
    return _run(_sumsq, x, out, slot)


def asum(x, out=None, slot=0):
    """out[slot] = sum of |x| (float64); returns it when `out` is None."""
    return _run(_asum, x, out, slot)


def non_finite_count(x, out=None, slot=0):
    """out[slot] = how many elements of x are NaN or infinite (0: all finite)."""
    return _run(_non_finite, x, out, slot)


def all_finite(x, out=None, slot=0):
    """As the CPU twin, read back: True when every element of x is finite."""
    if out is None:
        return non_finite_count(x) == 0
    non_finite_count(x, out, slot)
    return out[slot:slot + 1].copy_to_host()[0] == 0


def slots_total(out, count, total=None, slot=0):
    """total[slot] = out[0] + ... + out[count - 1], on the device (fixed order); without
    `total`, returns it (the one read-back of the solver's per-param sums)."""
    if total is not None:
        block_sum_kernel(out.dtype)[1, THREADS](out[:count], total, slot)
        return None
    work = scratch(1, np.float64)
    block_sum_kernel(out.dtype)[1, THREADS](out[:count], work, 0)
    return float(work.copy_to_host()[0])
