"""Scale and Bias kernels on an (outer, S, inner) view, with a per-S factor/offset.

    y[o, s, i] = x[o, s, i] * scale[s] + bias[s]
    dscale[s] += sum_{o, i} dy * x;  dbias[s] += sum_{o, i} dy;  dx = dy * scale[s]
An empty `dscale` / `dbias` (size 0) means "none". The sums run over stretches of CHUNK
values in the data's dtype (vector lanes; fastmath 'reassoc' only) added up in float64.
The `_parts` kernels cut the outer axis into runs, one per part of threads.run_parallel
(the layer's choice, for large blobs; the row loops release the GIL); the one-thread names
keep the CUDA twins' signatures (the fake device runs them). Rows are slices indexed from 0: an index that might be negative gets Numba's
wraparound test, which stops LLVM from vectorizing (measured 10x slower).
"""
import numpy as np
from numba import njit

from .threads import run_parallel

REDUCE = {"reassoc", "contract"}
CHUNK = 1024            # values summed in the data's dtype before going into float64


@njit(cache=True, nogil=True)
def _scale_rows(xf, yf, scale, bias, S, I, o0, o1):
    """y = x * scale + bias over outer indices [o0, o1); xf and yf distinct."""
    for o in range(o0, o1):
        for s in range(S):
            a = scale[s]
            b = bias[s]
            xr = xf[(o * S + s) * I:(o * S + s + 1) * I]
            yr = yf[(o * S + s) * I:(o * S + s + 1) * I]
            for i in range(I):
                yr[i] = xr[i] * a + b


@njit(cache=True, nogil=True)
def _scale_rows_inplace(yf, scale, bias, sf, save, S, I, o0, o1):
    """y = y * scale + bias over [o0, o1), the old y kept in sf when `save`."""
    for o in range(o0, o1):
        for s in range(S):
            a = scale[s]
            b = bias[s]
            yr = yf[(o * S + s) * I:(o * S + s + 1) * I]
            if save:
                sr = sf[(o * S + s) * I:(o * S + s + 1) * I]
                for i in range(I):
                    v = yr[i]
                    sr[i] = v
                    yr[i] = v * a + b
            else:
                for i in range(I):
                    yr[i] = yr[i] * a + b


def scale_forward_parts(x, scale, bias, y, parts):
    """y = x * scale + bias, x and y distinct (the `_inplace` twins take one array: aliased
    arguments would send LLVM's vectorized loops down their scalar path). `bias` is zeros
    when there is none, which keeps float32 data in float32 arithmetic. The outer axis is
    cut into `parts` runs (threads.run_parallel)."""
    O, S, I = x.shape
    xf, yf = x.reshape(-1), y.reshape(-1)
    run_parallel(lambda t: _scale_rows(xf, yf, scale, bias, S, I, t * O // parts,
                                       (t + 1) * O // parts), parts)


def scale_forward_inplace_parts(y, scale, bias, xsave, parts, save=True):
    """y = y * scale + bias, keeping the old y in `xsave` (backward's x) unless `save` is
    False (a layer whose backward never runs)."""
    O, S, I = y.shape
    yf, sf = y.reshape(-1), xsave.reshape(-1)
    run_parallel(lambda t: _scale_rows_inplace(yf, scale, bias, sf, save, S, I, t * O // parts,
                                               (t + 1) * O // parts), parts)


def scale_forward(x, scale, bias, y):
    """scale_forward_parts on one thread (the CUDA twin's signature)."""
    scale_forward_parts(x, scale, bias, y, 1)


def scale_forward_inplace(y, scale, bias, xsave):
    scale_forward_inplace_parts(y, scale, bias, xsave, 1)


@njit(cache=True, fastmath=REDUCE)
def _grad_row(x, g, d, a, want_dx):
    """(sum g * x, sum g) over one row, in float64 over stretches of CHUNK values summed in
    the data's dtype; and d = g * a in the same pass when `want_dx` (d and g distinct)."""
    acc_s = 0.0
    acc_b = 0.0
    for c0 in range(0, g.size, CHUNK):         # no stretch at all for an empty row
        gv = g[c0:c0 + CHUNK]
        xv = x[c0:c0 + CHUNK]
        ps = gv[0] * xv[0]
        pb = gv[0]
        for i in range(1, gv.size):
            ps += gv[i] * xv[i]
            pb += gv[i]
        acc_s += ps
        acc_b += pb
        if want_dx:
            dv = d[c0:c0 + CHUNK]
            for i in range(gv.size):
                dv[i] = gv[i] * a
    return acc_s, acc_b


@njit(cache=True, fastmath=REDUCE)
def _grad_row_inplace(x, d, a, want_dx):
    """_grad_row with g and d one array (one argument: two that alias would send LLVM's
    loop down its scalar path, 4x slower)."""
    acc_s = 0.0
    acc_b = 0.0
    for c0 in range(0, d.size, CHUNK):
        dv = d[c0:c0 + CHUNK]
        xv = x[c0:c0 + CHUNK]
        ps = dv[0] * xv[0]
        pb = dv[0]
        for i in range(1, dv.size):
            ps += dv[i] * xv[i]
            pb += dv[i]
        acc_s += ps
        acc_b += pb
        if want_dx:
            for i in range(dv.size):
                dv[i] *= a
    return acc_s, acc_b


@njit(cache=True, nogil=True)
def _grad_rows(xf, gf, df, inplace, scale, want_dx, S, I, o0, o1, sums):
    """sums[0, s] += sum dy * x, sums[1, s] += sum dy over [o0, o1); dx on the way (each
    stretch rewritten while it is in L1)."""
    for o in range(o0, o1):
        for s in range(S):
            lo = (o * S + s) * I
            if inplace:
                rs, rb = _grad_row_inplace(xf[lo:lo + I], df[lo:lo + I], scale[s], want_dx)
            else:
                rs, rb = _grad_row(xf[lo:lo + I], gf[lo:lo + I], df[lo:lo + I], scale[s],
                                   want_dx)
            sums[0, s] += rs
            sums[1, s] += rb


def _scale_backward(xf, gf, df, inplace, O, S, I, scale, dscale, dbias, want_dx, sums):
    parts = sums.shape[0]
    _zero(sums)
    run_parallel(lambda t: _grad_rows(xf, gf, df, inplace, scale, want_dx, S, I,
                                      t * O // parts, (t + 1) * O // parts, sums[t]), parts)
    _add_into(sums, dscale, dbias)


@njit(cache=True)
def _zero(sums):
    for k in range(sums.size):
        sums.flat[k] = 0.0


@njit(cache=True)
def _add_into(sums, dscale, dbias):
    """dscale[s] += the parts' sums[t, 0, s]; dbias[s] += their sums[t, 1, s] (each when
    non-empty)."""
    for s in range(sums.shape[2]):
        a = 0.0
        b = 0.0
        for t in range(sums.shape[0]):
            a += sums[t, 0, s]
            b += sums[t, 1, s]
        if dscale.size > 0:
            dscale[s] += a
        if dbias.size > 0:
            dbias[s] += b


def scale_backward_parts(x, dy, scale, dscale, dbias, dx, want_dx, sums):
    """Adds into dscale and dbias (when non-empty); writes dx when `want_dx` (dx and dy
    distinct; see scale_backward_inplace_parts). One pass over the rows, the outer axis
    cut into sums.shape[0] runs (threads), each with its own float64 sums (2, S)."""
    O, S, I = dy.shape
    _scale_backward(x.reshape(-1), dy.reshape(-1), dx.reshape(-1), False, O, S, I, scale,
                    dscale, dbias, want_dx, sums)


def scale_backward_inplace_parts(x, d, scale, dscale, dbias, want_dx, sums):
    """scale_backward_parts with dy and dx one array `d`."""
    O, S, I = d.shape
    df = d.reshape(-1)
    _scale_backward(x.reshape(-1), df, df, True, O, S, I, scale, dscale, dbias, want_dx, sums)


def scale_backward(x, dy, scale, dscale, dbias, dx, want_dx):
    """scale_backward_parts on one thread (the CUDA twin's signature)."""
    scale_backward_parts(x, dy, scale, dscale, dbias, dx, want_dx,
                         np.zeros((1, 2, dy.shape[1])))


def scale_backward_inplace(x, d, scale, dscale, dbias, want_dx):
    scale_backward_inplace_parts(x, d, scale, dscale, dbias, want_dx,
                                 np.zeros((1, 2, d.shape[1])))


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
