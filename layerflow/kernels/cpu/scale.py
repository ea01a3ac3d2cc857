"""Scale and Bias kernels on an (outer, S, inner) view, with a per-S factor/offset.

    y[o, s, i] = x[o, s, i] * scale[s] + bias[s]
    dscale[s] += sum_{o, i} dy * x;  dbias[s] += sum_{o, i} dy;  dx = dy * scale[s]
x and y (dy and dx) may be the same array: each element is read before it is written.
An empty `bias` / `dscale` / `dbias` (size 0) means "none".
"""
from numba import njit


@njit(cache=True)
def scale_forward(x, scale, bias, y):
    O, S, I = x.shape
    has_bias = bias.size > 0
    for o in range(O):
        for s in range(S):
            a = scale[s]
            b = bias[s] if has_bias else 0.0
            for i in range(I):
                y[o, s, i] = x[o, s, i] * a + b


@njit(cache=True)
def scale_backward(x, dy, scale, dscale, dbias, dx, want_dx):
    """Adds into dscale and dbias (when non-empty); writes dx when `want_dx`."""
    O, S, I = dy.shape
    want_ds = dscale.size > 0
    want_db = dbias.size > 0
    for o in range(O):
        for s in range(S):
            a = scale[s]
            acc_s = 0.0
            acc_b = 0.0
            for i in range(I):
                g = dy[o, s, i]
                if want_ds:
                    acc_s += g * x[o, s, i]
                acc_b += g
                if want_dx:
                    dx[o, s, i] = g * a
            if want_ds:
                dscale[s] += acc_s
            if want_db:
                dbias[s] += acc_b


@njit(cache=True)
def bias_forward(x, bias, y):
    O, S, I = x.shape
    for o in range(O):
        for s in range(S):
            b = bias[s]
            for i in range(I):
                y[o, s, i] = x[o, s, i] + b


@njit(cache=True)
def bias_backward(dy, dbias):
    """dbias[s] += sum_{o, i} dy[o, s, i]."""
    O, S, I = dy.shape
    for o in range(O):
        for s in range(S):
            acc = 0.0
            for i in range(I):
                acc += dy[o, s, i]
            dbias[s] += acc
