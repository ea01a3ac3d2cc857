"""Filter kernels, the CUDA twins of kernels/cpu/filter.py's filter_forward /
filter_backward: the kept rows (their indices `rows`, selected on the host in reshape, as
the top's shape depends on them) copied forward and back. Kept rows are distinct, so the
backward zeroes dx and then scatters without conflicts."""
from numba import cuda

from .launch import grid


@cuda.jit
def _forward(x, rows, y):
    kept, inner = y.shape
    e = cuda.grid(1)
    while e < y.size:
        m = e // inner
        i = e % inner
        y[m, i] = x[rows[m], i]
        e += cuda.gridsize(1)


@cuda.jit
def _zero(dx):
    e = cuda.grid(1)
    while e < dx.size:
        dx[e // dx.shape[1], e % dx.shape[1]] = 0
        e += cuda.gridsize(1)


@cuda.jit
def _scatter(dy, rows, dx):
    kept, inner = dy.shape
    e = cuda.grid(1)
    while e < dy.size:
        m = e // inner
        i = e % inner
        dx[rows[m], i] = dy[m, i]
        e += cuda.gridsize(1)


def filter_forward(x, rows, y):
    """y[m] = x[rows[m]] for m < y.shape[0]."""
    if y.size:
        _forward[grid(y.size)](x, rows, y)


def filter_backward(dy, rows, dx):
    """dx[rows[m]] = dy[m], every other row of dx 0."""
    if dx.size:
        _zero[grid(dx.size)](dx)
    if dy.size:
        _scatter[grid(dy.size)](dy, rows, dx)
