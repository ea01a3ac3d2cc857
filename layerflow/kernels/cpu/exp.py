"""Exp kernels: y = outer * exp(inner * x), where inner = scale * ln(base) and
outer = base^shift; dx = dy * y * inner.

Backward needs only y, so the layer runs in place; the `_inplace` twins take one array
where top and bottom are the same (aliased loops do not vectorize). `fexp` is an exp LLVM
can vectorize in float32 (within 1-2 ulp of libm's)."""
from numba import njit

from .fastexp import fexp


@njit(cache=True)
def exp_forward(x, inner, outer, out):
    for i in range(x.size):
        out[i] = outer * fexp(inner * x[i])


@njit(cache=True)
def exp_forward_inplace(x, inner, outer):
    for i in range(x.size):
        x[i] = outer * fexp(inner * x[i])


@njit(cache=True)
def exp_backward(y, dy, inner, dx):
    for i in range(y.size):
        dx[i] = dy[i] * y[i] * inner


@njit(cache=True)
def exp_backward_inplace(y, d, inner):
    for i in range(y.size):
        d[i] = d[i] * y[i] * inner
