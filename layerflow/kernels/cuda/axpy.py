"""Axpy kernels over (R, S) rows with one a per row, the CUDA twins of kernels/cpu/axpy.py:
out = a * x + y; da[r] = sum_i dtop[r, i] x[r, i] (one thread a row, float64, the CPU's
order: no atomics); dx = a dtop; dy = dtop (each written when wanted)."""
from numba import cuda, float64

from .launch import grid


@cuda.jit
def _forward(a, x, y, out):
    rows, inner = x.shape
    e = cuda.grid(1)
    while e < x.size:
        r = e // inner
        i = e % inner
        out[r, i] = a[r] * x[r, i] + y[r, i]
        e += cuda.gridsize(1)


@cuda.jit
def _scale_grad(x, dtop, da):
    rows, inner = x.shape
    r = cuda.grid(1)
    while r < rows:
        acc = float64(0)
        for i in range(inner):
            acc += dtop[r, i] * x[r, i]
        da[r] = acc
        r += cuda.gridsize(1)


@cuda.jit
def _data_grads(a, dtop, dx, dy, want_x, want_y):
    rows, inner = dtop.shape
    e = cuda.grid(1)
    while e < dtop.size:
        r = e // inner
        i = e % inner
        g = dtop[r, i]
        if want_x:
            dx[r, i] = a[r] * g
        if want_y:
            dy[r, i] = g
        e += cuda.gridsize(1)


def axpy_forward(a, x, y, out):
    """a: (R,), x, y, out: (R, S)."""
    _forward[grid(x.size)](a, x, y, out)


def axpy_backward(a, x, dtop, da, dx, dy, want_a, want_x, want_y):
    """Arrays not wanted may be empty."""
    if want_a:
        _scale_grad[grid(x.shape[0])](x, dtop, da)
    if want_x or want_y:
        _data_grads[grid(dtop.size)](a, dtop, dx, dy, bool(want_x), bool(want_y))
