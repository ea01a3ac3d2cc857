"""Threshold kernels: y = 1 where x > threshold, else 0 (no gradient, as in Caffe).
The `_inplace` twin takes one array where top and bottom are the same."""
from numba import njit


@njit(cache=True)
def threshold_forward(x, threshold, out):
    for i in range(x.size):
        out[i] = 1 if x[i] > threshold else 0


@njit(cache=True)
def threshold_forward_inplace(x, threshold):
    for i in range(x.size):
        x[i] = 1 if x[i] > threshold else 0
