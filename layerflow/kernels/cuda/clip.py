"""Clip kernels, the CUDA twins of kernels/cpu/clip.py: y = min(max(x, lo), hi);
dx = dy where lo <= x <= hi, else 0. In place, the forward records the pass mask (one byte
an element) and backward applies it. NaN stays NaN forward and passes no gradient.
Device arrays of any shape, indexed flat; grid sized inside."""
from numba import cuda

from .launch import flat, grid


@cuda.jit
def _forward(x, lo, hi, out):
    i = cuda.grid(1)
    while i < x.size:
        v = x[i]
        out[i] = lo if v < lo else (hi if v > hi else v)
        i += cuda.gridsize(1)


@cuda.jit
def _forward_mask(x, lo, hi, mask):
    i = cuda.grid(1)
    while i < x.size:
        v = x[i]
        mask[i] = 1 if lo <= v and v <= hi else 0
        x[i] = lo if v < lo else (hi if v > hi else v)
        i += cuda.gridsize(1)


@cuda.jit
def _backward(x, dy, lo, hi, dx):
    zero = x.dtype.type(0)
    i = cuda.grid(1)
    while i < x.size:
        v = x[i]
        dx[i] = dy[i] if lo <= v and v <= hi else zero
        i += cuda.gridsize(1)


@cuda.jit
def _backward_mask(mask, d):
    i = cuda.grid(1)
    while i < d.size:
        if not mask[i]:
            d[i] = 0
        i += cuda.gridsize(1)


def clip_forward(x, lo, hi, out):
    x, out = flat(x), flat(out)
    t = out.dtype.type
    _forward[grid(x.size)](x, t(lo), t(hi), out)


def clip_forward_inplace(x, lo, hi, mask):
    x, mask = flat(x), flat(mask)
    t = x.dtype.type
    _forward_mask[grid(x.size)](x, t(lo), t(hi), mask)


def clip_backward(x, dy, lo, hi, dx):
    x, dy, dx = flat(x), flat(dy), flat(dx)
    t = dx.dtype.type
    _backward[grid(x.size)](x, dy, t(lo), t(hi), dx)


def clip_backward_inplace(mask, d):
    mask, d = flat(mask), flat(d)
    _backward_mask[grid(d.size)](mask, d)
