"""ReLU kernels: y = max(x, 0) + slope * min(x, 0); dx = dy * (x > 0 ? 1 : slope)."""
from numba import njit


@njit(cache=True)
def relu_forward(x, slope, out):
    for i in range(x.size):
        v = x[i]
        out[i] = v if v > 0 else v * slope


@njit(cache=True)
def relu_backward(x, dy, slope, dx):
    """`x` may be the top data of an in-place ReLU: its sign equals the input's for slope >= 0."""
    for i in range(x.size):
        dx[i] = dy[i] if x[i] > 0 else dy[i] * slope
