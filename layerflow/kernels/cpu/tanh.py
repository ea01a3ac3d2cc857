"""TanH kernels: y = tanh(x); dx = dy * (1 - y^2). The `_inplace` twins take one array
where an in-place layer's arrays coincide (LLVM does not vectorize possibly aliased loops)."""
import math

from numba import njit


@njit(cache=True)
def tanh_forward(x, out):
    for i in range(x.size):
        out[i] = math.tanh(x[i])


@njit(cache=True)
def tanh_forward_inplace(x):
    for i in range(x.size):
        x[i] = math.tanh(x[i])


@njit(cache=True)
def tanh_backward(y, dy, dx):
    for i in range(y.size):
        dx[i] = dy[i] * (1.0 - y[i] * y[i])


@njit(cache=True)
def tanh_backward_inplace(y, d):
    one = y.dtype.type(1)
    for i in range(y.size):
        d[i] = d[i] * (one - y[i] * y[i])
