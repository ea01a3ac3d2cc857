"""Multinomial logistic loss kernels over (N, D) probabilities and N labels, the CUDA
twins of kernels/cpu/multinomial_logistic_loss.py: loss = -sum log max(p[i, label], 1e-20);
dx[i, label] = -scale / max(p[i, label], 1e-20), 0 elsewhere.

The forward's sum and the first bad label run in one block (float64, a fixed order, no
atomics) and come back once."""
import math

import numpy as np
from numba import cuda, float64, int64

from ..cpu.multinomial_logistic_loss import LOG_THRESHOLD
from .launch import THREADS, grid, reduce_sum_count_first, scratch

_NONE = np.int64(1 << 62)      # "no bad label" in a min-reduction


@cuda.jit
def _forward(p, labels, work):
    tot = cuda.shared.array(THREADS, float64)
    unused = cuda.shared.array(THREADS, int64)
    bads = cuda.shared.array(THREADS, int64)
    n, d = p.shape
    t = cuda.threadIdx.x
    s = float64(0)
    bad = _NONE
    i = t
    while i < n:
        label = int(labels[i])
        if label < 0 or label >= d:
            bad = min(bad, i)
        else:
            s -= math.log(max(float64(p[i, label]), LOG_THRESHOLD))
        i += THREADS
    tot[t] = s
    unused[t] = 0
    bads[t] = bad
    reduce_sum_count_first(tot, unused, bads, t)
    if t == 0:
        work[0] = tot[0]
        work[1] = -1 if bads[0] == _NONE else bads[0]


@cuda.jit
def _backward(p, labels, scale, dx):
    n, d = p.shape
    e = cuda.grid(1)
    while e < p.size:
        i = e // d
        j = e % d
        if j == int(labels[i]):
            dx[i, j] = -scale / max(float64(p[i, j]), LOG_THRESHOLD)
        else:
            dx[i, j] = 0
        e += cuda.gridsize(1)


def mlogistic_forward(p, labels):
    """Return (sum of -log p[label], -1), or (0, i) for a label outside [0, D)."""
    work = scratch(2, np.float64)
    _forward[1, THREADS](p, labels.reshape(labels.size), work)
    total, bad = work.copy_to_host()
    return (0.0, int(bad)) if bad >= 0 else (float(total), -1)


def mlogistic_backward(p, labels, scale, dx):
    _backward[grid(p.size)](p, labels.reshape(labels.size), dx.dtype.type(scale), dx)
