"""Dropout kernels with inverted scaling: y = x * [u >= ratio] / (1 - ratio), u ~ U[0, 1)."""
from numba import njit


@njit(cache=True)
def dropout_forward(x, u, ratio, scale, out):
    for i in range(x.size):
        out[i] = x[i] * scale if u[i] >= ratio else 0.0


@njit(cache=True)
def dropout_backward(dy, u, ratio, scale, dx):
    for i in range(dy.size):
        dx[i] = dy[i] * scale if u[i] >= ratio else 0.0
