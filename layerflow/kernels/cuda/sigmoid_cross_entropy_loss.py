"""Sigmoid cross-entropy kernels over flat scores x and targets t, the CUDA twins of
kernels/cpu/sigmoid_cross_entropy_loss.py: per element loss = max(x, 0) - x t +
log1p(exp(-|x|)), sig = sigmoid(x) kept; dx = (sig - t) * scale. Elements whose target,
cast to int, is `ignore_label` add nothing and get dx = 0.

The forward's sum and count run in one block (float64, a fixed order: the same bits every
run, no atomics) and come back to the host once, as the CPU kernel returns them."""
import math

import numpy as np
from numba import cuda, float64, int64

from .launch import THREADS, flat, grid, reduce_sum_count_first, scratch


@cuda.jit
def _forward(x, t, ignore_label, has_ignore, sig, work):
    tot = cuda.shared.array(THREADS, float64)
    cnt = cuda.shared.array(THREADS, int64)
    unused = cuda.shared.array(THREADS, int64)
    zero, one = x.dtype.type(0), x.dtype.type(1)
    tid = cuda.threadIdx.x
    s = float64(0)
    n = 0
    i = tid
    while i < x.size:
        v = x[i]
        e = math.exp(-abs(v))
        r = one / (one + e)
        sig[i] = r if v >= 0 else e * r
        if not (has_ignore and int(t[i]) == ignore_label):
            s += max(v, zero) - v * t[i] + math.log1p(e)
            n += 1
        i += THREADS
    tot[tid] = s
    cnt[tid] = n
    unused[tid] = 0
    reduce_sum_count_first(tot, cnt, unused, tid)
    if tid == 0:
        work[0] = tot[0]
        work[1] = cnt[0]


@cuda.jit
def _backward(sig, t, ignore_label, has_ignore, scale, dx):
    i = cuda.grid(1)
    while i < sig.size:
        if has_ignore and int(t[i]) == ignore_label:
            dx[i] = 0
        else:
            dx[i] = (sig[i] - t[i]) * scale
        i += cuda.gridsize(1)


def sigmoid_ce_forward(x, t, ignore_label, has_ignore, sig):
    """Fill `sig` with sigmoid(x); return (summed loss, number of counted elements)."""
    work = scratch(2, np.float64)
    _forward[1, THREADS](flat(x), flat(t), int(ignore_label), bool(has_ignore), flat(sig), work)
    total, count = work.copy_to_host()
    return float(total), int(count)


def sigmoid_ce_backward(sig, t, ignore_label, has_ignore, scale, dx):
    sig, t, dx = flat(sig), flat(t), flat(dx)
    _backward[grid(sig.size)](sig, t, int(ignore_label), bool(has_ignore),
                              dx.dtype.type(scale), dx)
