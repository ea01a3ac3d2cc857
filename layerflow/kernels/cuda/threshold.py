"""Threshold kernels, the CUDA twins of kernels/cpu/threshold.py: y = 1 where
x > threshold, else 0 (no gradient). Device arrays of any shape, indexed flat."""
from numba import cuda

from .launch import flat, grid


@cuda.jit
def _forward(x, threshold, out):
    one, zero = out.dtype.type(1), out.dtype.type(0)
    i = cuda.grid(1)
    while i < x.size:
        out[i] = one if x[i] > threshold else zero
        i += cuda.gridsize(1)


def threshold_forward(x, threshold, out):
    x, out = flat(x), flat(out)
    _forward[grid(x.size)](x, out.dtype.type(threshold), out)


def threshold_forward_inplace(x, threshold):
    threshold_forward(x, threshold, x)
