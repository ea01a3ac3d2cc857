"""Power kernels: y = (shift + scale * x)^power;
dx = dy * power * scale * (shift + scale * x)^(power - 1).

power 1 and 2 skip `pow` (about 30 ns an element); constant outputs (power * scale == 0)
are handled by the layer."""
from numba import njit


@njit(cache=True)
def power_forward(x, power, scale, shift, out):
    if power == 1:
        for i in range(x.size):
            out[i] = shift + scale * x[i]
    elif power == 2:
        for i in range(x.size):
            b = shift + scale * x[i]
            out[i] = b * b
    else:
        for i in range(x.size):
            out[i] = (shift + scale * x[i]) ** power


@njit(cache=True)
def power_backward(x, dy, power, scale, shift, dx):
    k = power * scale
    if power == 1:
        for i in range(x.size):
            dx[i] = dy[i] * k
    elif power == 2:
        for i in range(x.size):
            dx[i] = dy[i] * k * (shift + scale * x[i])
    else:
        p1 = power - 1
        for i in range(x.size):
            dx[i] = dy[i] * k * (shift + scale * x[i]) ** p1
