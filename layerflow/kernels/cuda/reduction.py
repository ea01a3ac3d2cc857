"""Reduction kernels over the rows of an (outer, dim) device array, the CUDA twins of
kernels/cpu/reduction.py. op: 0 SUM, 1 ASUM, 2 SUMSQ, 3 MEAN (the layer passes coeff / dim
for MEAN). Forward: one thread per row, its sum in float64 in the row's order (no atomics);
backward: one thread per element, dx = coeff dy[o] * (1 | sign(x) | 2x)."""
from numba import cuda, float64

from .launch import grid


@cuda.jit
def _forward(x, op, coeff, y):
    outer, dim = x.shape
    o = cuda.grid(1)
    while o < outer:
        acc = float64(0)
        for j in range(dim):
            v = x[o, j]
            if op == 1:
                acc += abs(v)
            elif op == 2:
                acc += v * v
            else:
                acc += v
        y[o] = coeff * acc
        o += cuda.gridsize(1)


@cuda.jit
def _backward(x, dy, op, coeff, dx):
    outer, dim = x.shape
    zero = dx.dtype.type(0)
    e = cuda.grid(1)
    while e < x.size:
        o = e // dim
        j = e % dim
        g = coeff * dy[o]
        if op == 1:
            v = x[o, j]
            dx[o, j] = g if v > 0 else (-g if v < 0 else zero)
        elif op == 2:
            dx[o, j] = (g + g) * x[o, j]
        else:
            dx[o, j] = g
        e += cuda.gridsize(1)


def reduction_forward(x, op, coeff, y):
    _forward[grid(x.shape[0])](x, int(op), y.dtype.type(coeff), y.reshape(y.size))


def reduction_backward(x, dy, op, coeff, dx):
    """dx[o, j] = coeff dy[o] * (1 | sign(x) | 2x) (written)."""
    _backward[grid(x.size)](x, dy.reshape(dy.size), int(op), dx.dtype.type(coeff), dx)
