"""Swish kernels: s = sigmoid(beta * x) (kept for backward), y = x * s;
dx = dy * (beta * y + s * (1 - beta * y)).

Backward needs only y and s, so the layer runs in place; the `_inplace` twins take one
array where top and bottom are the same (aliased loops do not vectorize). The sigmoid is
branch-free (one exp of -|b|, then a select) with error_model="numpy" (no zero-division
check): 8 ms against 29 ms for the branchy form, forward, 1M float32 elements."""
from numba import njit

from .fastexp import fexp


@njit(cache=True, inline="always", error_model="numpy")
def _sigmoid(b, one):
    """`one` in the data's dtype keeps float32 arithmetic float32 (1 + e would be float64)."""
    e = fexp(-abs(b))
    r = one / (one + e)
    return r if b >= 0 else e * r


@njit(cache=True, error_model="numpy")
def swish_forward(x, beta, sig, out):
    one = x.dtype.type(1)
    for i in range(x.size):
        v = x[i]
        s = _sigmoid(beta * v, one)
        sig[i] = s
        out[i] = v * s


@njit(cache=True, error_model="numpy")
def swish_forward_inplace(x, beta, sig):
    one = x.dtype.type(1)
    for i in range(x.size):
        v = x[i]
        s = _sigmoid(beta * v, one)
        sig[i] = s
        x[i] = v * s


@njit(cache=True)
def swish_backward(y, sig, dy, beta, dx):
    one = y.dtype.type(1)
    for i in range(y.size):
        by = beta * y[i]
        dx[i] = dy[i] * (by + sig[i] * (one - by))


@njit(cache=True)
def swish_backward_inplace(y, sig, d, beta):
    one = y.dtype.type(1)
    for i in range(y.size):
        by = beta * y[i]
        d[i] = d[i] * (by + sig[i] * (one - by))
