"""Power kernels, the CUDA twins of kernels/cpu/power.py: y = (shift + scale * x)^power;
dx = dy * power * scale * (shift + scale * x)^(power - 1). Powers 1, 2, 0.5 and -0.5 take
the CPU's special forms (no pow), so that both round alike; the branch is the same for every
thread. Constant outputs (power * scale == 0) are handled by the layer.
Device arrays of any shape, indexed flat; grid sized inside."""
import math

from numba import cuda

from .launch import flat, grid


@cuda.jit
def _forward(x, power, scale, shift, out):
    one = x.dtype.type(1)
    i = cuda.grid(1)
    while i < x.size:
        b = shift + scale * x[i]
        if power == 1:
            out[i] = b
        elif power == 2:
            out[i] = b * b
        elif power == 0.5:
            out[i] = math.sqrt(b)
        elif power == -0.5:
            out[i] = one / math.sqrt(b)
        else:
            out[i] = b ** power
        i += cuda.gridsize(1)


@cuda.jit
def _backward(x, dy, power, scale, shift, dx):
    k = power * scale
    p1 = power - x.dtype.type(1)
    i = cuda.grid(1)
    while i < x.size:
        if power == 1:
            dx[i] = dy[i] * k
        else:
            b = shift + scale * x[i]
            if power == 2:
                dx[i] = dy[i] * k * b
            elif power == 0.5:
                dx[i] = dy[i] * k / math.sqrt(b)
            elif power == -0.5:
                dx[i] = dy[i] * k / (b * math.sqrt(b))
            else:
                dx[i] = dy[i] * k * b ** p1
        i += cuda.gridsize(1)


def power_forward(x, power, scale, shift, out):
    x, out = flat(x), flat(out)
    t = out.dtype.type
    _forward[grid(x.size)](x, t(power), t(scale), t(shift), out)


def power_backward(x, dy, power, scale, shift, dx):
    x, dy, dx = flat(x), flat(dy), flat(dx)
    t = dx.dtype.type
    _backward[grid(x.size)](x, dy, t(power), t(scale), t(shift), dx)
