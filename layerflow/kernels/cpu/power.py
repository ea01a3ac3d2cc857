"""Power kernels: y = (shift + scale * x)^power;
dx = dy * power * scale * (shift + scale * x)^(power - 1).

power 1, 2, 0.5 and -0.5 skip `pow` (a scalar libm call, about 30 ns an element, where
sqrt vectorizes); constant outputs (power * scale == 0) are handled by the layer."""
import math

from numba import njit


@njit(cache=True, error_model="numpy")
def power_forward(x, power, scale, shift, out):
    if power == 1:
        for i in range(x.size):
            out[i] = shift + scale * x[i]
    elif power == 2:
        for i in range(x.size):
            b = shift + scale * x[i]
            out[i] = b * b
    elif power == 0.5:
        for i in range(x.size):
            out[i] = math.sqrt(shift + scale * x[i])
    elif power == -0.5:
        one = x.dtype.type(1)
        for i in range(x.size):
            out[i] = one / math.sqrt(shift + scale * x[i])
    else:
        for i in range(x.size):
            out[i] = (shift + scale * x[i]) ** power


@njit(cache=True, error_model="numpy")
def power_backward(x, dy, power, scale, shift, dx):
    k = power * scale
    if power == 1:
        for i in range(x.size):
            dx[i] = dy[i] * k
    elif power == 2:
        for i in range(x.size):
            dx[i] = dy[i] * k * (shift + scale * x[i])
    elif power == 0.5:
        for i in range(x.size):
            dx[i] = dy[i] * k / math.sqrt(shift + scale * x[i])
    elif power == -0.5:
        for i in range(x.size):
            b = shift + scale * x[i]
            dx[i] = dy[i] * k / (b * math.sqrt(b))
    else:
        p1 = power - 1
        for i in range(x.size):
            dx[i] = dy[i] * k * (shift + scale * x[i]) ** p1
