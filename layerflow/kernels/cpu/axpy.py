"""Axpy kernels: out = a * x + y with one a per (sample, channel), over (N*C, spatial) rows."""
from numba import njit


@njit(cache=True)
def axpy_forward(a, x, y, out):
    """a: (R,), x, y, out: (R, S)."""
    rows, inner = x.shape
    for r in range(rows):
        s = a[r]
        for i in range(inner):
            out[r, i] = s * x[r, i] + y[r, i]


@njit(cache=True)
def axpy_backward(a, x, dtop, da, dx, dy, want_a, want_x, want_y):
    """da[r] = sum_i dtop[r, i] x[r, i]; dx = a dtop; dy = dtop (each written when wanted)."""
    rows, inner = x.shape
    for r in range(rows):
        s = a[r]
        acc = 0.0
        for i in range(inner):
            g = dtop[r, i]
            if want_a:
                acc += g * x[r, i]
            if want_x:
                dx[r, i] = s * g
            if want_y:
                dy[r, i] = g
        if want_a:
            da[r] = acc
