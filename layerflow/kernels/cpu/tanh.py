"""TanH kernels: y = tanh(x); dx = dy * (1 - y^2)."""
import math

from numba import njit


@njit(cache=True)
def tanh_forward(x, out):
    for i in range(x.size):
        out[i] = math.tanh(x[i])


@njit(cache=True)
def tanh_backward(y, dy, dx):
    for i in range(y.size):
        dx[i] = dy[i] * (1.0 - y[i] * y[i])
