"""BNLL kernels, the CUDA twins of kernels/cpu/bnll.py: y = max(x, 0) + log1p(exp(-|x|))
(log(1 + exp(x)) with no exp that overflows); dx = dy * sigmoid(x), from the same
exp(-|x|). Device arrays of any shape, indexed flat; grid sized inside."""
import math

from numba import cuda

from .launch import flat, grid


@cuda.jit
def _forward(x, out):
    zero = x.dtype.type(0)
    i = cuda.grid(1)
    while i < x.size:
        v = x[i]
        out[i] = max(v, zero) + math.log1p(math.exp(-abs(v)))
        i += cuda.gridsize(1)


@cuda.jit
def _backward(x, dy, dx):
    one = x.dtype.type(1)
    i = cuda.grid(1)
    while i < x.size:
        v = x[i]
        e = math.exp(-abs(v))
        r = one / (one + e)
        dx[i] = dy[i] * (r if v >= 0 else e * r)
        i += cuda.gridsize(1)


def bnll_forward(x, out):
    x, out = flat(x), flat(out)
    _forward[grid(x.size)](x, out)


def bnll_backward(x, dy, dx):
    x, dy, dx = flat(x), flat(dy), flat(dx)
    _backward[grid(x.size)](x, dy, dx)
