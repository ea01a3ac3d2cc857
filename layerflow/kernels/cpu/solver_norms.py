"""Reductions the solver runs over params and blobs without allocating: the sum of squares
(global gradient norm for clipping; non-finite when any element is), the sum of absolute
values (Caffe's debug_info prints asum / count) and an all-finite test.

`sumsq` and `slots_total` take the CUDA twins' arguments (kernels/cuda/solver_norms.py): with
`out`, the sum goes into out[slot], so that the solver gathers one sum per param where the
gradients are and reads the total once.

The sums may be reassociated (fastmath 'reassoc' only, so that they vectorize; NaN and inf
still propagate, which the non-finite guard relies on)."""
import math

from numba import njit


def sumsq(x, out=None, slot=0):
    """Sum of x^2 (float64); into out[slot] when `out` is given."""
    s = _sumsq(x)
    if out is None:
        return s
    out[slot] = s
    return None


def slots_total(out, count, total=None, slot=0):
    """out[0] + ... + out[count - 1] (in order); into total[slot] when `total` is given."""
    s = math.fsum(out[:count])
    if total is None:
        return s
    total[slot] = s
    return None


@njit(cache=True, fastmath={"reassoc"})
def _sumsq(x):
    total = 0.0
    for i in range(x.size):
        v = float(x[i])
        total += v * v
    return total


@njit(cache=True, fastmath={"reassoc"})
def asum(x):
    total = 0.0
    for i in range(x.size):
        total += abs(float(x[i]))
    return total


@njit(cache=True)
def all_finite(x):
    for i in range(x.size):
        if not math.isfinite(x[i]):
            return False
    return True
