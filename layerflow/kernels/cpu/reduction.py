"""Reduction kernels over the rows of an (outer, dim) array.
op: 0 SUM, 1 ASUM, 2 SUMSQ, 3 MEAN (the layer passes coeff / dim for MEAN)."""
from numba import njit


@njit(cache=True)
def reduction_forward(x, op, coeff, y):
    outer, dim = x.shape
    for o in range(outer):
        acc = 0.0
        for j in range(dim):
            v = x[o, j]
            if op == 1:
                acc += abs(v)
            elif op == 2:
                acc += v * v
            else:
                acc += v
        y[o] = coeff * acc


@njit(cache=True)
def reduction_backward(x, dy, op, coeff, dx):
    """dx[o, j] = coeff dy[o] * (1 | sign(x) | 2x) (written)."""
    outer, dim = x.shape
    for o in range(outer):
        g = coeff * dy[o]
        for j in range(dim):
            if op == 1:
                v = x[o, j]
                dx[o, j] = g if v > 0 else (-g if v < 0 else 0.0 * g)
            elif op == 2:
                dx[o, j] = 2 * g * x[o, j]
            else:
                dx[o, j] = g
