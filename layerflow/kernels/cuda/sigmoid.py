"""Sigmoid kernels, the CUDA twins of kernels/cpu/sigmoid.py:
y = 1 / (1 + exp(-x)) (in the form that cannot overflow); dx = dy * y * (1 - y).
Device arrays of any shape, indexed flat; grid sized inside."""
import math

from numba import cuda

from .launch import flat, grid


@cuda.jit
def _forward(x, out):
    one = out.dtype.type(1)
    i = cuda.grid(1)
    while i < x.size:
        v = x[i]
        if v >= 0:
            out[i] = one / (one + math.exp(-v))
        else:
            e = math.exp(v)
            out[i] = e / (one + e)
        i += cuda.gridsize(1)


@cuda.jit
def _backward(y, dy, dx):
    one = dx.dtype.type(1)
    i = cuda.grid(1)
    while i < y.size:
        dx[i] = dy[i] * y[i] * (one - y[i])
        i += cuda.gridsize(1)


def sigmoid_forward(x, out):
    x, out = flat(x), flat(out)
    _forward[grid(x.size)](x, out)


def sigmoid_forward_inplace(x):
    sigmoid_forward(x, x)


def sigmoid_backward(y, dy, dx):
    y, dy, dx = flat(y), flat(dy), flat(dx)
    _backward[grid(y.size)](y, dy, dx)


def sigmoid_backward_inplace(y, d):
    sigmoid_backward(y, d, d)
