"""BNLL kernels: y = log(1 + exp(x)), computed as max(x, 0) + log1p(exp(-|x|)) so that no
exp overflows; dx = dy * sigmoid(x), computed without overflow as well."""
import math

from numba import njit


@njit(cache=True)
def bnll_forward(x, out):
    for i in range(x.size):
        v = x[i]
        if v > 0:
            out[i] = v + math.log1p(math.exp(-v))
        else:
            out[i] = math.log1p(math.exp(v))


@njit(cache=True)
def bnll_backward(x, dy, dx):
    for i in range(x.size):
        v = x[i]
        if v >= 0:
            s = 1 / (1 + math.exp(-v))
        else:
            e = math.exp(v)
            s = e / (1 + e)
        dx[i] = dy[i] * s
