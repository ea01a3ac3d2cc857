"""Reductions the solver runs over params and blobs without allocating: the sum of squares
(global gradient norm for clipping; non-finite when any element is), the sum of absolute
values (Caffe's debug_info prints asum / count) and an all-finite test."""
import math

from numba import njit


@njit(cache=True)
def sumsq(x):
    total = 0.0
    for i in range(x.size):
        v = float(x[i])
        total += v * v
    return total


@njit(cache=True)
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
