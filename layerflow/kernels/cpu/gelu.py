"""GELU kernels. Exact: y = x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2,
dy/dx = Phi(x) + x * exp(-x^2 / 2) / sqrt(2 pi).
Tanh form: u = sqrt(2/pi) * (x + 0.044715 x^3), t = tanh(u), y = x (1 + t) / 2,
dy/dx = (1 + t) / 2 + x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2) / 2."""
import math

from numba import njit

INV_SQRT2 = 0.7071067811865476
INV_SQRT_2PI = 0.3989422804014327
SQRT_2_OVER_PI = 0.7978845608028654
COEF = 0.044715


@njit(cache=True)
def gelu_forward(x, out):
    half = x.dtype.type(0.5)
    c = x.dtype.type(INV_SQRT2)
    for i in range(x.size):
        v = x[i]
        out[i] = half * v * (1 + math.erf(v * c))


@njit(cache=True)
def gelu_backward(x, dy, dx):
    half = x.dtype.type(0.5)
    c = x.dtype.type(INV_SQRT2)
    k = x.dtype.type(INV_SQRT_2PI)
    for i in range(x.size):
        v = x[i]
        cdf = half * (1 + math.erf(v * c))
        pdf = k * math.exp(-half * v * v)
        dx[i] = dy[i] * (cdf + v * pdf)


@njit(cache=True)
def gelu_tanh_forward(x, out):
    half = x.dtype.type(0.5)
    s = x.dtype.type(SQRT_2_OVER_PI)
    a = x.dtype.type(COEF)
    for i in range(x.size):
        v = x[i]
        out[i] = half * v * (1 + math.tanh(s * (v + a * v * v * v)))


@njit(cache=True)
def gelu_tanh_backward(x, dy, dx):
    half = x.dtype.type(0.5)
    s = x.dtype.type(SQRT_2_OVER_PI)
    a = x.dtype.type(COEF)
    a3 = x.dtype.type(3 * COEF)
    for i in range(x.size):
        v = x[i]
        t = math.tanh(s * (v + a * v * v * v))
        dx[i] = dy[i] * (half * (1 + t) + half * v * (1 - t * t) * s * (1 + a3 * v * v))
