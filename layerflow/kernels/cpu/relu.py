"""ReLU kernels: y = max(x, 0) + slope * min(x, 0); dx = dy * (x > 0 ? 1 : slope).

The `_inplace` twins take one array where an in-place layer's input and output (or top and
bottom diff) are the same: LLVM cannot vectorize a loop whose two arguments may alias, and
the one-array form ran 6x faster on a 3.3M-element blob. `parts` > 1 cuts the array into
that many runs of whole cache lines, one per thread (the layer's choice, for large blobs);
the default keeps the CUDA twins' signatures. NaN stays NaN."""
from numba import njit

from .eltwise import split_runs


@njit(cache=True, nogil=True)
def _forward(x, slope, out):
    for i in range(x.size):
        v = x[i]
        out[i] = v if v > 0 else v * slope


@njit(cache=True, nogil=True)
def _forward_inplace(x, slope):
    for i in range(x.size):
        v = x[i]
        x[i] = v if v > 0 else v * slope


@njit(cache=True, nogil=True)
def _backward(x, dy, slope, dx):
    for i in range(x.size):
        dx[i] = dy[i] if x[i] > 0 else dy[i] * slope


@njit(cache=True, nogil=True)
def _backward_inplace(x, d, slope):
    for i in range(x.size):
        g = d[i]
        d[i] = g if x[i] > 0 else g * slope


def relu_forward(x, slope, out, parts=1):
    split_runs(lambda lo, hi: _forward(x[lo:hi], slope, out[lo:hi]), x.size, parts)


def relu_forward_inplace(x, slope, parts=1):
    split_runs(lambda lo, hi: _forward_inplace(x[lo:hi], slope), x.size, parts)


def relu_backward(x, dy, slope, dx, parts=1):
    """`x` may be the top data of an in-place ReLU: its sign equals the input's for slope >= 0."""
    split_runs(lambda lo, hi: _backward(x[lo:hi], dy[lo:hi], slope, dx[lo:hi]), x.size, parts)


def relu_backward_inplace(x, d, slope, parts=1):
    split_runs(lambda lo, hi: _backward_inplace(x[lo:hi], d[lo:hi], slope), x.size, parts)
