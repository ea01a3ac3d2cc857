"""ELU kernels: y = x for x > 0, else alpha * (exp(x) - 1);
dx = dy for x > 0, else dy * (y + alpha).

Backward reads the sign from `x`, which is the top data when the layer runs in place: for
alpha >= 0, y > 0 exactly where x > 0 (Caffe does the same). The `_inplace` twins take one
array where top and bottom are the same (aliased loops do not vectorize). The forward pass
takes exp(min(x, 0)) (`fexp`, vectorizable in float32) and selects, without a branch."""
from numba import njit

from .fastexp import fexp


@njit(cache=True)
def elu_forward(x, alpha, out):
    zero, one = x.dtype.type(0), x.dtype.type(1)
    for i in range(x.size):
        v = x[i]
        e = alpha * (fexp(min(v, zero)) - one)
        out[i] = v if v > 0 else e


@njit(cache=True)
def elu_forward_inplace(x, alpha):
    zero, one = x.dtype.type(0), x.dtype.type(1)
    for i in range(x.size):
        v = x[i]
        e = alpha * (fexp(min(v, zero)) - one)
        x[i] = v if v > 0 else e


@njit(cache=True)
def elu_backward(x, y, dy, alpha, dx):
    for i in range(x.size):
        dx[i] = dy[i] if x[i] > 0 else dy[i] * (y[i] + alpha)


@njit(cache=True)
def elu_backward_inplace(y, d, alpha):
    for i in range(y.size):
        v = y[i]
        g = d[i]
        d[i] = g if v > 0 else g * (v + alpha)
