"""ELU kernels, the CUDA twins of kernels/cpu/elu.py: y = x for x > 0, else
alpha * (exp(x) - 1); dx = dy for x > 0, else dy * (y + alpha).

Backward reads the sign from `x`, the top data when the layer runs in place (for alpha >= 0,
y > 0 exactly where x > 0). Device arrays of any shape, indexed flat; grid sized inside."""
import math

from numba import cuda

from .launch import flat, grid


@cuda.jit
def _forward(x, alpha, out):
    zero, one = x.dtype.type(0), x.dtype.type(1)
    i = cuda.grid(1)
    while i < x.size:
        v = x[i]
        out[i] = v if v > 0 else alpha * (math.exp(min(v, zero)) - one)
        i += cuda.gridsize(1)


@cuda.jit
def _backward(x, y, dy, alpha, dx):
    i = cuda.grid(1)
    while i < x.size:
        g = dy[i]
        dx[i] = g if x[i] > 0 else g * (y[i] + alpha)
        i += cuda.gridsize(1)


def elu_forward(x, alpha, out):
    x, out = flat(x), flat(out)
    _forward[grid(x.size)](x, out.dtype.type(alpha), out)


def elu_forward_inplace(x, alpha):
    elu_forward(x, alpha, x)


def elu_backward(x, y, dy, alpha, dx):
    x, y, dy, dx = flat(x), flat(y), flat(dy), flat(dx)
    _backward[grid(x.size)](x, y, dy, dx.dtype.type(alpha), dx)


def elu_backward_inplace(y, d, alpha):
    """`y` (the top data) gives the sign and the value; `d` holds dy, then dx."""
    elu_backward(y, y, d, alpha, d)
