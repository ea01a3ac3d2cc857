"""TanH kernels, the CUDA twins of kernels/cpu/tanh.py: y = tanh(x); dx = dy * (1 - y^2).
Device arrays of any shape, indexed flat; grid sized inside."""
import math

from numba import cuda

from .launch import flat, grid


@cuda.jit
def _forward(x, out):
    i = cuda.grid(1)
    while i < x.size:
        out[i] = math.tanh(x[i])
        i += cuda.gridsize(1)


@cuda.jit
def _backward(y, dy, dx):
    one = dx.dtype.type(1)
    i = cuda.grid(1)
    while i < y.size:
        dx[i] = dy[i] * (one - y[i] * y[i])
        i += cuda.gridsize(1)


def tanh_forward(x, out):
    x, out = flat(x), flat(out)
    _forward[grid(x.size)](x, out)


def tanh_forward_inplace(x):
    tanh_forward(x, x)


def tanh_backward(y, dy, dx):
    y, dy, dx = flat(y), flat(dy), flat(dx)
    _backward[grid(y.size)](y, dy, dx)


def tanh_backward_inplace(y, d):
    tanh_backward(y, d, d)
