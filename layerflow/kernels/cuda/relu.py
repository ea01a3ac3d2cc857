"""ReLU kernels, the CUDA twins of kernels/cpu/relu.py:
y = max(x, 0) + slope * min(x, 0); dx = dy * (x > 0 ? 1 : slope). NaN stays NaN.

Arguments are device arrays of any shape (C-contiguous, indexed flat); each function
launches a grid-stride kernel sized inside. The `_inplace` names exist so that layers call
the same names in both modes (on the GPU, aliasing costs nothing)."""
from numba import cuda

from .launch import flat, grid


@cuda.jit
def _forward(x, slope, out):
    i = cuda.grid(1)
    while i < x.size:
        v = x[i]
        out[i] = v if v > 0 else v * slope
        i += cuda.gridsize(1)


@cuda.jit
def _backward(x, dy, slope, dx):
    i = cuda.grid(1)
    while i < x.size:
        g = dy[i]
        dx[i] = g if x[i] > 0 else g * slope
        i += cuda.gridsize(1)


def relu_forward(x, slope, out):
    x, out = flat(x), flat(out)
    _forward[grid(x.size)](x, out.dtype.type(slope), out)


def relu_forward_inplace(x, slope):
    relu_forward(x, slope, x)


def relu_backward(x, dy, slope, dx):
    """`x` may be the top data of an in-place ReLU: its sign equals the input's for slope >= 0."""
    x, dy, dx = flat(x), flat(dy), flat(dx)
    _backward[grid(x.size)](x, dy, dx.dtype.type(slope), dx)


def relu_backward_inplace(x, d, slope):
    relu_backward(x, d, slope, d)
