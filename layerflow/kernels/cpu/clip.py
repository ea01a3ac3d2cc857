"""Clip kernels: y = min(max(x, lo), hi); dx = dy where lo <= x <= hi, else 0 (Caffe's
rule: the bounds themselves pass the gradient, as in torch.clamp).

In place, x is gone by backward time, so the forward twin records the pass mask (one byte
an element) and backward applies it. NaN stays NaN forward and passes no gradient."""
from numba import njit


@njit(cache=True)
def clip_forward(x, lo, hi, out):
    for i in range(x.size):
        v = x[i]
        out[i] = lo if v < lo else (hi if v > hi else v)


@njit(cache=True)
def clip_forward_inplace(x, lo, hi, mask):
    for i in range(x.size):
        v = x[i]
        mask[i] = 1 if lo <= v <= hi else 0
        x[i] = lo if v < lo else (hi if v > hi else v)


@njit(cache=True)
def clip_backward(x, dy, lo, hi, dx):
    zero = x.dtype.type(0)
    for i in range(x.size):
        v = x[i]
        dx[i] = dy[i] if lo <= v <= hi else zero


@njit(cache=True)
def clip_backward_inplace(mask, d):
    for i in range(d.size):
        if not mask[i]:
            d[i] = 0
