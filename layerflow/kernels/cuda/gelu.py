"""GELU kernels, the CUDA twins of kernels/cpu/gelu.py. Exact: y = x * Phi(x),
Phi(x) = (1 + erf(x / sqrt 2)) / 2, dy/dx = Phi(x) + x * exp(-x^2 / 2) / sqrt(2 pi).
Tanh form: u = sqrt(2/pi) (x + 0.044715 x^3), t = tanh(u), y = x (1 + t) / 2, and its exact
derivative (the CPU's 1 - 2 / (1 + exp(2u)) is its vectorizable tanh; the device's own tanh
needs no overflow to reach +-1).
Device arrays of any shape, indexed flat; grid sized inside."""
import math

from numba import cuda

from ..cpu.gelu import COEF, INV_SQRT2, INV_SQRT_2PI, SQRT_2_OVER_PI
from .launch import flat, grid


@cuda.jit
def _forward(x, out):
    one, half, c = x.dtype.type(1), x.dtype.type(0.5), x.dtype.type(INV_SQRT2)
    i = cuda.grid(1)
    while i < x.size:
        v = x[i]
        out[i] = half * v * (one + math.erf(v * c))
        i += cuda.gridsize(1)


@cuda.jit
def _backward(x, dy, dx):
    one, half, c = x.dtype.type(1), x.dtype.type(0.5), x.dtype.type(INV_SQRT2)
    k = x.dtype.type(INV_SQRT_2PI)
    i = cuda.grid(1)
    while i < x.size:
        v = x[i]
        cdf = half * (one + math.erf(v * c))
        pdf = k * math.exp(-half * v * v)
        dx[i] = dy[i] * (cdf + v * pdf)
        i += cuda.gridsize(1)


@cuda.jit
def _tanh_forward(x, out):
    one, half = x.dtype.type(1), x.dtype.type(0.5)
    s, a = x.dtype.type(SQRT_2_OVER_PI), x.dtype.type(COEF)
    i = cuda.grid(1)
    while i < x.size:
        v = x[i]
        out[i] = half * v * (one + math.tanh(s * (v + a * v * v * v)))
        i += cuda.gridsize(1)


@cuda.jit
def _tanh_backward(x, dy, dx):
    one, half = x.dtype.type(1), x.dtype.type(0.5)
    s, a, a3 = x.dtype.type(SQRT_2_OVER_PI), x.dtype.type(COEF), x.dtype.type(3 * COEF)
    i = cuda.grid(1)
    while i < x.size:
        v = x[i]
        t = math.tanh(s * (v + a * v * v * v))
        dx[i] = dy[i] * (half * (one + t) + half * v * (one - t * t) * s * (one + a3 * v * v))
        i += cuda.gridsize(1)


def gelu_forward(x, out):
    x, out = flat(x), flat(out)
    _forward[grid(x.size)](x, out)


def gelu_backward(x, dy, dx):
    x, dy, dx = flat(x), flat(dy), flat(dx)
    _backward[grid(x.size)](x, dy, dx)


def gelu_tanh_forward(x, out):
    x, out = flat(x), flat(out)
    _tanh_forward[grid(x.size)](x, out)


def gelu_tanh_backward(x, dy, dx):
    x, dy, dx = flat(x), flat(dy), flat(dx)
    _tanh_backward[grid(x.size)](x, dy, dx)
