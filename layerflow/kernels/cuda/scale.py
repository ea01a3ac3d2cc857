"""Scale and Bias kernels on an (outer, S, inner) device view with a per-S factor/offset,
the CUDA twins of kernels/cpu/scale.py:

    y[o, s, i] = x[o, s, i] * scale[s] + bias[s]
    dscale[s] += sum_{o, i} dy * x;  dbias[s] += sum_{o, i} dy;  dx = dy * scale[s]

An empty `dscale` / `dbias` (size 0) means "none". The parameter sums run one thread per
s over (o, i) with a float64 row sum added per o, the CPU loop's order; they run before
dx is written, so dy and dx may be one array (the `_inplace` names)."""
from numba import cuda, float64

from .launch import grid


@cuda.jit
def _forward(x, scale, bias, y):
    O, S, I = x.shape
    e = cuda.grid(1)
    while e < x.size:
        o = e // (S * I)
        s = (e // I) % S
        i = e % I
        y[o, s, i] = x[o, s, i] * scale[s] + bias[s]
        e += cuda.gridsize(1)


@cuda.jit
def _save_then_forward(y, scale, bias, xsave):
    O, S, I = y.shape
    e = cuda.grid(1)
    while e < y.size:
        o = e // (S * I)
        s = (e // I) % S
        i = e % I
        v = y[o, s, i]
        xsave[o, s, i] = v
        y[o, s, i] = v * scale[s] + bias[s]
        e += cuda.gridsize(1)


@cuda.jit
def _param_grads(x, dy, dscale, dbias):
    O, S, I = dy.shape
    want_ds = dscale.size > 0
    want_db = dbias.size > 0
    s = cuda.grid(1)
    while s < S:
        for o in range(O):
            acc_s = float64(0)
            acc_b = float64(0)
            for i in range(I):
                if want_ds:
                    acc_s += float64(dy[o, s, i]) * x[o, s, i]
                if want_db:
                    acc_b += dy[o, s, i]
            if want_ds:
                dscale[s] += acc_s
            if want_db:
                dbias[s] += acc_b
        s += cuda.gridsize(1)


@cuda.jit
def _bias_grad(dy, dbias):
    O, S, I = dy.shape
    s = cuda.grid(1)
    while s < S:
        for o in range(O):
            acc = float64(0)
            for i in range(I):
                acc += dy[o, s, i]
            dbias[s] += acc
        s += cuda.gridsize(1)


@cuda.jit
def _data_grad(dy, scale, dx):
    O, S, I = dy.shape
    e = cuda.grid(1)
    while e < dy.size:
        o = e // (S * I)
        s = (e // I) % S
        i = e % I
        dx[o, s, i] = dy[o, s, i] * scale[s]
        e += cuda.gridsize(1)


@cuda.jit
def _bias_forward(x, bias, y):
    O, S, I = x.shape
    e = cuda.grid(1)
    while e < x.size:
        o = e // (S * I)
        s = (e // I) % S
        i = e % I
        y[o, s, i] = x[o, s, i] + bias[s]
        e += cuda.gridsize(1)


def scale_forward(x, scale, bias, y):
    """y = x * scale + bias (`bias` zeros when there is none)."""
    _forward[grid(x.size)](x, scale, bias, y)


def scale_forward_inplace(y, scale, bias, xsave):
    """y = y * scale + bias, keeping the old y in `xsave` (backward's x)."""
    _save_then_forward[grid(y.size)](y, scale, bias, xsave)


def scale_backward(x, dy, scale, dscale, dbias, dx, want_dx):
    """Adds into dscale and dbias (when non-empty); writes dx when `want_dx`."""
    if dscale.size or dbias.size:
        _param_grads[grid(dy.shape[1])](x, dy, dscale, dbias)
    if want_dx:
        _data_grad[grid(dy.size)](dy, scale, dx)


def scale_backward_inplace(x, d, scale, dscale, dbias, want_dx):
    """scale_backward with dy and dx one array `d`."""
    scale_backward(x, d, scale, dscale, dbias, d, want_dx)


def bias_forward(x, bias, y):
    _bias_forward[grid(x.size)](x, bias, y)


def bias_forward_inplace(y, bias):
    bias_forward(y, bias, y)


def bias_backward(dy, dbias):
    """dbias[s] += sum_{o, i} dy[o, s, i]."""
    _bias_grad[grid(dy.shape[1])](dy, dbias)
