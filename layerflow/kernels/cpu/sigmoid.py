"""Sigmoid kernels: y = 1 / (1 + exp(-x)); dx = dy * y * (1 - y)."""
import math

from numba import njit


@njit(cache=True)
def sigmoid_forward(x, out):
    for i in range(x.size):
        v = x[i]
        if v >= 0:
            out[i] = 1.0 / (1.0 + math.exp(-v))
        else:
            e = math.exp(v)
            out[i] = e / (1.0 + e)


@njit(cache=True)
def sigmoid_backward(y, dy, dx):
    for i in range(y.size):
        dx[i] = dy[i] * y[i] * (1.0 - y[i])
