"""Exp kernels, the CUDA twins of kernels/cpu/exp.py: y = outer * exp(inner * x)
(inner = scale * ln(base), outer = base^shift); dx = dy * y * inner. Backward needs only
y, so the layer runs in place. Device arrays of any shape, indexed flat; grid sized inside."""
import math

from numba import cuda

from .launch import flat, grid


@cuda.jit
def _forward(x, inner, outer, out):
    i = cuda.grid(1)
    while i < x.size:
        out[i] = outer * math.exp(inner * x[i])
        i += cuda.gridsize(1)


@cuda.jit
def _backward(y, dy, inner, dx):
    i = cuda.grid(1)
    while i < y.size:
        dx[i] = dy[i] * y[i] * inner
        i += cuda.gridsize(1)


def exp_forward(x, inner, outer, out):
    x, out = flat(x), flat(out)
    t = out.dtype.type
    _forward[grid(x.size)](x, t(inner), t(outer), out)


def exp_forward_inplace(x, inner, outer):
    exp_forward(x, inner, outer, x)


def exp_backward(y, dy, inner, dx):
    y, dy, dx = flat(y), flat(dy), flat(dx)
    _backward[grid(y.size)](y, dy, dx.dtype.type(inner), dx)


def exp_backward_inplace(y, d, inner):
    exp_backward(y, d, inner, d)
