"""EuclideanLoss kernel: d = a - b, returns sum(d^2)."""
from numba import njit


@njit(cache=True)
def euclidean_diff(a, b, d):
    total = 0.0
    for i in range(a.size):
        v = a[i] - b[i]
        d[i] = v
        total += v * v
    return total


@njit(cache=True)
def scaled_copy(src, alpha, dst):
    for i in range(src.size):
        dst[i] = alpha * src[i]
