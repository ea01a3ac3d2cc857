"""Scale and Bias kernels on an (outer, S, inner) view, with a per-S factor/offset.

    y[o, s, i] = x[o, s, i] * scale[s] + bias[s]
    dscale[s] += sum_{o, i} dy * x;  dbias[s] += sum_{o, i} dy;  dx = dy * scale[s]
x and y (dy and dx) may be the same array: each element is read before it is written.
An empty `dscale` / `dbias` (size 0) means "none". The sums may be
reordered (fastmath 'reassoc' only) so that they vectorize.
"""
import numpy as np
from numba import njit

REDUCE = {"reassoc", "contract"}


@njit(cache=True)
def scale_forward(x, scale, bias, y):
    """y = x * scale + bias, x and y distinct (the `_inplace` twins take one array: aliased
    arguments would send LLVM's vectorized loops down their scalar path). `bias` is zeros
    when there is none, which keeps float32 data in float32 arithmetic."""
    O, S, I = x.shape
    for o in range(O):
        for s in range(S):
            a = scale[s]
            b = bias[s]
            for i in range(I):
                y[o, s, i] = x[o, s, i] * a + b


@njit(cache=True)
def scale_forward_inplace(y, scale, bias, xsave):
    """y = y * scale + bias, keeping the old y in `xsave` (backward's x)."""
    O, S, I = y.shape
    for o in range(O):
        for s in range(S):
            a = scale[s]
            b = bias[s]
            for i in range(I):
                v = y[o, s, i]
                xsave[o, s, i] = v
                y[o, s, i] = v * a + b


@njit(cache=True, fastmath=REDUCE)
def _param_grads(x, dy, o, s, want_ds, want_db):
    """(sum_i dy * x, sum_i dy) over row (o, s)."""
    acc_s = 0.0
    acc_b = 0.0
    if want_ds:
        for i in range(dy.shape[2]):
            acc_s += np.float64(dy[o, s, i]) * x[o, s, i]
    if want_db:
        for i in range(dy.shape[2]):
            acc_b += dy[o, s, i]
    return acc_s, acc_b


@njit(cache=True)
def scale_backward(x, dy, scale, dscale, dbias, dx, want_dx):
    """Adds into dscale and dbias (when non-empty); writes dx when `want_dx` (dx and dy
    distinct; see scale_backward_inplace)."""
    O, S, I = dy.shape
    want_ds = dscale.size > 0
    want_db = dbias.size > 0
    for o in range(O):
        for s in range(S):
            acc_s, acc_b = _param_grads(x, dy, o, s, want_ds, want_db)
            if want_ds:
                dscale[s] += acc_s
            if want_db:
                dbias[s] += acc_b
            if want_dx:
                a = scale[s]
                for i in range(I):
                    dx[o, s, i] = dy[o, s, i] * a


@njit(cache=True)
def scale_backward_inplace(x, d, scale, dscale, dbias, want_dx):
    """scale_backward with dy and dx one array `d`."""
    O, S, I = d.shape
    want_ds = dscale.size > 0
    want_db = dbias.size > 0
    for o in range(O):
        for s in range(S):
            acc_s, acc_b = _param_grads(x, d, o, s, want_ds, want_db)
            if want_ds:
                dscale[s] += acc_s
            if want_db:
                dbias[s] += acc_b
            if want_dx:
                a = scale[s]
                for i in range(I):
                    d[o, s, i] *= a


@njit(cache=True)
def bias_forward(x, bias, y):
    O, S, I = x.shape
    for o in range(O):
        for s in range(S):
            b = bias[s]
            for i in range(I):
                y[o, s, i] = x[o, s, i] + b


@njit(cache=True)
def bias_forward_inplace(y, bias):
    O, S, I = y.shape
    for o in range(O):
        for s in range(S):
            b = bias[s]
            for i in range(I):
                y[o, s, i] += b


@njit(cache=True, fastmath=REDUCE)
def bias_backward(dy, dbias):
    """dbias[s] += sum_{o, i} dy[o, s, i]."""
    O, S, I = dy.shape
    for o in range(O):
        for s in range(S):
            acc = 0.0
            for i in range(I):
                acc += dy[o, s, i]
            dbias[s] += acc
