"""Reductions the solver runs over params and blobs without allocating: the sum of squares
(global gradient norm for clipping; non-finite when any element is), the sum of absolute
values (Caffe's debug_info prints asum / count) and an all-finite test.

The sums may be reassociated (fastmath 'reassoc' only, so that they vectorize; NaN and inf
still propagate, which the non-finite guard relies on)."""
import math

from numba import njit


@njit(cache=True, fastmath={"reassoc"})
def sumsq(x):
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
