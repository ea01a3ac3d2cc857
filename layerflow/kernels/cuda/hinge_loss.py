"""Hinge loss kernels over (N, D) scores and N labels, the CUDA twins of
kernels/cpu/hinge_loss.py: m[i, j] = max(0, 1 - x[i, j]) at j = label[i], else
max(0, 1 + x[i, j]); L1 sums m, L2 sums m^2; dx = -/+ (m > 0) or -/+ 2 m (minus at the
label), times the caller's scale.

The forward's two sums and the first bad label run in one block (float64, a fixed order, no
atomics) and come back once."""
import numpy as np
from numba import cuda, float64, int64

from .launch import THREADS, grid, scratch

_NONE = np.int64(1 << 62)      # "no bad label" in a min-reduction


@cuda.jit
def _forward(x, labels, margins, work):
    l1s = cuda.shared.array(THREADS, float64)
    l2s = cuda.shared.array(THREADS, float64)
    bads = cuda.shared.array(THREADS, int64)
    n, d = x.shape
    zero, one = x.dtype.type(0), x.dtype.type(1)
    t = cuda.threadIdx.x
    s1 = float64(0)
    s2 = float64(0)
    bad = _NONE
    e = t
    while e < x.size:
        i = e // d
        j = e % d
        label = int(labels[i])
        if label < 0 or label >= d:
            bad = min(bad, i)
        m = max(one - x[i, j], zero) if j == label else max(one + x[i, j], zero)
        margins[i, j] = m
        s1 += m
        s2 += m * m
        e += THREADS
    l1s[t] = s1
    l2s[t] = s2
    bads[t] = bad
    cuda.syncthreads()
    h = THREADS // 2
    while h > 0:
        if t < h:
            l1s[t] += l1s[t + h]
            l2s[t] += l2s[t + h]
            bads[t] = min(bads[t], bads[t + h])
        cuda.syncthreads()
        h //= 2
    if t == 0:
        work[0] = l1s[0]
        work[1] = l2s[0]
        work[2] = -1 if bads[0] == _NONE else bads[0]


@cuda.jit
def _backward(margins, labels, scale, squared, dx):
    n, d = margins.shape
    zero = dx.dtype.type(0)
    e = cuda.grid(1)
    while e < margins.size:
        i = e // d
        j = e % d
        m = margins[i, j]
        g = (m + m) * scale if squared else (scale if m > 0 else zero)   # 2m exact: float32
        dx[i, j] = -g if j == int(labels[i]) else g
        e += cuda.gridsize(1)


def hinge_forward(x, labels, margins):
    """Fill `margins`; return (sum m, sum m^2, -1), or (0, 0, i) for a label outside [0, D)."""
    work = scratch(3, np.float64)
    _forward[1, THREADS](x, labels.reshape(labels.size), margins, work)
    l1, l2, bad = work.copy_to_host()
    return (0.0, 0.0, int(bad)) if bad >= 0 else (float(l1), float(l2), -1)


def hinge_backward(margins, labels, scale, squared, dx):
    _backward[grid(margins.size)](margins, labels.reshape(labels.size),
                                  dx.dtype.type(scale), bool(squared), dx)
