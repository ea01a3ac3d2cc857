"""Swish kernels, the CUDA twins of kernels/cpu/swish.py: s = sigmoid(beta * x) (kept for
backward), y = x * s; dx = dy * (beta * y + s * (1 - beta * y)).

The sigmoid takes one exp(-|b|) (no overflow either way). Device arrays of any shape,
indexed flat; grid sized inside."""
import math

from numba import cuda

from .launch import flat, grid


@cuda.jit(device=True)
def _sigmoid(b, one):
    e = math.exp(-abs(b))
    r = one / (one + e)
    return r if b >= 0 else e * r


@cuda.jit
def _forward(x, beta, sig, out):
    one = x.dtype.type(1)
    i = cuda.grid(1)
    while i < x.size:
        v = x[i]
        s = _sigmoid(beta * v, one)
        sig[i] = s
        out[i] = v * s
        i += cuda.gridsize(1)


@cuda.jit
def _backward(y, sig, dy, beta, dx):
    one = y.dtype.type(1)
    i = cuda.grid(1)
    while i < y.size:
        by = beta * y[i]
        dx[i] = dy[i] * (by + sig[i] * (one - by))
        i += cuda.gridsize(1)


def swish_forward(x, beta, sig, out):
    x, sig, out = flat(x), flat(sig), flat(out)
    _forward[grid(x.size)](x, out.dtype.type(beta), sig, out)


def swish_forward_inplace(x, beta, sig):
    swish_forward(x, beta, sig, x)


def swish_backward(y, sig, dy, beta, dx):
    y, sig, dy, dx = flat(y), flat(sig), flat(dy), flat(dx)
    _backward[grid(y.size)](y, sig, dy, dx.dtype.type(beta), dx)


def swish_backward_inplace(y, sig, d, beta):
    swish_backward(y, sig, d, beta, d)
