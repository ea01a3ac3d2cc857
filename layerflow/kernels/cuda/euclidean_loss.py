"""EuclideanLoss kernels, the CUDA twins of kernels/cpu/euclidean_loss.py: d = a - b, and the
sum of d^2 (float64, one block in a fixed order) read back as the CPU kernel returns it."""
import numpy as np
from numba import cuda, float64

from .launch import THREADS, f64, flat, grid, scratch, tree_sum


@cuda.jit
def _diff(a, b, d, out):
    buf = cuda.shared.array(THREADS, float64)
    t = cuda.threadIdx.x
    s = float64(0)
    i = t
    while i < a.size:
        v = a[i] - b[i]
        d[i] = v
        s += float64(v) * v
        i += THREADS
    buf[t] = s
    tree_sum(buf, t)
    if t == 0:
        out[0] = buf[0]


@cuda.jit
def _scaled_copy(src, alpha, dst):
    i = cuda.grid(1)
    while i < src.size:
        dst[i] = alpha * src[i]
        i += cuda.gridsize(1)


def euclidean_diff(a, b, d):
    """d = a - b; returns sum(d^2)."""
    work = scratch(1, np.float64)
    _diff[1, THREADS](flat(a), flat(b), flat(d), work)
    return float(work.copy_to_host()[0])


def scaled_copy(src, alpha, dst):
    src, dst = flat(src), flat(dst)
    _scaled_copy[grid(src.size)](src, *f64(alpha), dst)
