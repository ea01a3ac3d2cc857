"""AbsVal kernels, the CUDA twins of kernels/cpu/absval.py: y = |x|; dx = sign(x) * dy
(sign(0) = 0). Device arrays of any shape, indexed flat; grid sized inside."""
from numba import cuda

from .launch import flat, grid


@cuda.jit
def _forward(x, out):
    i = cuda.grid(1)
    while i < x.size:
        out[i] = abs(x[i])
        i += cuda.gridsize(1)


@cuda.jit
def _backward(x, dy, dx):
    zero = x.dtype.type(0)
    i = cuda.grid(1)
    while i < x.size:
        v = x[i]
        dx[i] = dy[i] if v > 0 else (-dy[i] if v < 0 else zero)
        i += cuda.gridsize(1)


def absval_forward(x, out):
    x, out = flat(x), flat(out)
    _forward[grid(x.size)](x, out)


def absval_backward(x, dy, dx):
    x, dy, dx = flat(x), flat(dy), flat(dx)
    _backward[grid(x.size)](x, dy, dx)
