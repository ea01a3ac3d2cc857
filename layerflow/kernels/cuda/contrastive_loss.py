"""Contrastive loss kernels over (N, C) features a, b and N similarity flags, the CUDA
twins of kernels/cpu/contrastive_loss.py: d = a - b and D^2 = |d|^2 kept; per pair, similar
(flag != 0): D^2; dissimilar: max(margin - D, 0)^2, or with `legacy` max(margin - D^2, 0).
Gradient to a (b gets the negative): similar alpha * d; dissimilar
-alpha * (margin - D) / (D + 1e-4) * d where margin - D > 0, legacy -alpha * d where
margin - D^2 > 0; else 0.

The forward runs in one block (one thread a pair, float64 sums, a fixed order: no atomics)
and the summed loss comes back once; backward is one thread an element."""
import math

import numpy as np
from numba import cuda, float64

from .launch import THREADS, grid, scratch, tree_sum


@cuda.jit
def _forward(a, b, sim, margin, legacy, diff, dist_sq, work):
    buf = cuda.shared.array(THREADS, float64)
    n, c = a.shape
    t = cuda.threadIdx.x
    total = float64(0)
    i = t
    while i < n:
        s = float64(0)
        for j in range(c):
            v = a[i, j] - b[i, j]
            diff[i, j] = v
            s += v * v
        dist_sq[i] = s
        if int(sim[i]) != 0:
            total += s
        elif legacy:
            total += max(margin - s, 0.0)
        else:
            m = max(margin - math.sqrt(s), 0.0)
            total += m * m
        i += THREADS
    buf[t] = total
    tree_sum(buf, t)
    if t == 0:
        work[0] = buf[0]


@cuda.jit
def _backward(diff, dist_sq, sim, margin, legacy, alpha, out):
    n, c = diff.shape
    e = cuda.grid(1)
    while e < diff.size:
        i = e // c
        j = e % c
        if int(sim[i]) != 0:
            k = float64(alpha)
        elif legacy:
            k = float64(-alpha) if margin - dist_sq[i] > 0 else 0.0
        else:
            dist = math.sqrt(float64(dist_sq[i]))
            mdist = margin - dist
            k = -alpha * mdist / (dist + 1e-4) if mdist > 0 else 0.0
        out[i, j] = k * diff[i, j]
        e += cuda.gridsize(1)


def contrastive_forward(a, b, sim, margin, legacy, diff, dist_sq):
    """Fill `diff` and `dist_sq`; return the summed per-pair losses (before 1 / 2N)."""
    work = scratch(1, np.float64)
    _forward[1, THREADS](a, b, sim.reshape(sim.size), diff.dtype.type(margin), bool(legacy),
                         diff, dist_sq, work)
    return float(work.copy_to_host()[0])


def contrastive_backward(diff, dist_sq, sim, margin, legacy, alpha, out):
    t = out.dtype.type
    _backward[grid(diff.size)](diff, dist_sq, sim.reshape(sim.size), t(margin), bool(legacy),
                               t(alpha), out)
