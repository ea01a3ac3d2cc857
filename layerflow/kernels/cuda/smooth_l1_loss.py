"""Smooth L1 loss kernel (Fast R-CNN's), the CUDA twin of kernels/cpu/smooth_l1_loss.py:
d = w_in * (a - b); e = 0.5 sigma2 d^2 if |d| < 1 / sigma2, else |d| - 0.5 / sigma2;
loss = sum w_out * e; the kept gradient g = w_in * w_out * (sigma2 d or sign(d)). Without
weight bottoms pass any arrays with `has_in` / `has_out` false. The backward's scaled copy
is euclidean_loss.scaled_copy.

The sum runs in one block (float64, a fixed order, no atomics) and comes back once."""
import numpy as np
from numba import cuda, float64

from .launch import THREADS, flat, scratch, tree_sum


@cuda.jit
def _forward(a, b, w_in, has_in, w_out, has_out, sigma2, grad, work):
    buf = cuda.shared.array(THREADS, float64)
    one, half = a.dtype.type(1), a.dtype.type(0.5)
    inv = one / sigma2
    t = cuda.threadIdx.x
    s = float64(0)
    i = t
    while i < a.size:
        d = a[i] - b[i]
        if has_in:
            d *= w_in[i]
        ad = abs(d)
        small = ad < inv
        e = half * sigma2 * d * d if small else ad - half * inv
        g = sigma2 * d if small else (one if d > 0 else -one)
        if has_in:
            g *= w_in[i]
        if has_out:
            e *= w_out[i]
            g *= w_out[i]
        grad[i] = g
        s += e
        i += THREADS
    buf[t] = s
    tree_sum(buf, t)
    if t == 0:
        work[0] = buf[0]


def smooth_l1_forward(a, b, w_in, has_in, w_out, has_out, sigma2, grad):
    """Fill `grad`; return the summed loss."""
    work = scratch(1, np.float64)
    _forward[1, THREADS](flat(a), flat(b), flat(w_in), bool(has_in), flat(w_out), bool(has_out),
                         grad.dtype.type(sigma2), flat(grad), work)
    return float(work.copy_to_host()[0])
