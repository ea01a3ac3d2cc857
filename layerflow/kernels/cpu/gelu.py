"""GELU kernels. Exact: y = x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2,
dy/dx = Phi(x) + x * exp(-x^2 / 2) / sqrt(2 pi).
Tanh form: u = sqrt(2/pi) * (x + 0.044715 x^3), t = tanh(u), y = x (1 + t) / 2,
dy/dx = (1 + t) / 2 + x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2) / 2.
The tanh form takes t = 1 - 2 / (1 + exp(2u)) with `fexp`, which LLVM vectorizes in
float32 (libm's tanh and erf are scalar calls; the erf form stays at their speed)."""
import math

from numba import njit

from .fastexp import fexp

INV_SQRT2 = 0.7071067811865476
INV_SQRT_2PI = 0.3989422804014327
SQRT_2_OVER_PI = 0.7978845608028654
COEF = 0.044715


@njit(cache=True)
def gelu_forward(x, out):
    one = x.dtype.type(1)
    half = x.dtype.type(0.5)
    c = x.dtype.type(INV_SQRT2)
    for i in range(x.size):
        v = x[i]
        out[i] = half * v * (one + math.erf(v * c))


@njit(cache=True)
def gelu_backward(x, dy, dx):
    one = x.dtype.type(1)
    half = x.dtype.type(0.5)
    c = x.dtype.type(INV_SQRT2)
    k = x.dtype.type(INV_SQRT_2PI)
    for i in range(x.size):
        v = x[i]
        cdf = half * (one + math.erf(v * c))
        pdf = k * math.exp(-half * v * v)
        dx[i] = dy[i] * (cdf + v * pdf)


@njit(cache=True, inline="always", error_model="numpy")
def _tanh(u, one):
    return one - (one + one) / (one + fexp(u + u))


@njit(cache=True, error_model="numpy")
def gelu_tanh_forward(x, out):
    one = x.dtype.type(1)
    half = x.dtype.type(0.5)
    s = x.dtype.type(SQRT_2_OVER_PI)
    a = x.dtype.type(COEF)
    for i in range(x.size):
        v = x[i]
        out[i] = half * v * (one + _tanh(s * (v + a * v * v * v), one))


@njit(cache=True, error_model="numpy")
def gelu_tanh_backward(x, dy, dx):
    one = x.dtype.type(1)
    half = x.dtype.type(0.5)
    s = x.dtype.type(SQRT_2_OVER_PI)
    a = x.dtype.type(COEF)
    a3 = x.dtype.type(3 * COEF)
    for i in range(x.size):
        v = x[i]
        t = _tanh(s * (v + a * v * v * v), one)
        dx[i] = dy[i] * (half * (one + t) + half * v * (one - t * t) * s * (one + a3 * v * v))
