"""LRN kernels (Caffe's local response normalization), the CUDA twins of kernels/cpu/lrn.py,
with the same arguments (scalars in the data's dtype):

Across channels, on an (N, C, HW) view, window of `size` channels centred on c:
    scale = k + alpha / size * sum_{j in window(c)} x_j^2;  y = x * scale^-beta
    dx = dy * scale^-beta - (2 alpha beta / size) * x * sum_{j in window(c)} dy_j y_j / scale_j
Within a channel, on a (P, H, W) view, a size x size window with zero padding and
k = 1, size^2 in place of size.
One thread per element sums its own window (no atomics); `pw` keeps scale^-beta for
backward, and the usual betas (0.75, 0.5, 1) use square roots as on the CPU. Backward first
writes `ratio` = dy * y / scale (one pass), then one thread per element sums its window."""
import math

from numba import cuda

from .launch import grid


@cuda.jit(device=True, inline=True)
def _power(s, beta, one):
    """s^-beta, with the CPU kernel's square-root forms for 0.75, 0.5 and 1."""
    if beta == 0.75:
        return one / math.sqrt(s * math.sqrt(s))
    if beta == 0.5:
        return one / math.sqrt(s)
    if beta == 1.0:
        return one / s
    return s ** -beta


@cuda.jit
def _across_forward(x, size, alpha_n, beta, k, one, scale, pw, y):
    N, C, HW = x.shape
    pre = (size - 1) // 2
    e = cuda.grid(1)
    while e < x.size:
        n = e // (C * HW)
        c = (e // HW) % C
        i = e % HW
        s = x.dtype.type(0)
        for j in range(max(0, c - pre), min(C, c + pre + 1)):
            v = x[n, j, i]
            s += v * v
        s = k + alpha_n * s
        scale[n, c, i] = s
        p = _power(s, beta, one)
        pw[n, c, i] = p
        y[n, c, i] = x[n, c, i] * p
        e += cuda.gridsize(1)


@cuda.jit
def _ratio(dy, x, pw, scale, out):
    i = cuda.grid(1)
    while i < out.size:
        out[i] = dy[i] * x[i] * pw[i] / scale[i]
        i += cuda.gridsize(1)


@cuda.jit
def _across_backward(x, dy, pw, size, coef, ratio, dx):
    N, C, HW = x.shape
    pre = (size - 1) // 2
    e = cuda.grid(1)
    while e < x.size:
        n = e // (C * HW)
        c = (e // HW) % C
        i = e % HW
        s = x.dtype.type(0)
        for j in range(max(0, c - pre), min(C, c + pre + 1)):
            s += ratio[n, j, i]
        dx[n, c, i] = dy[n, c, i] * pw[n, c, i] - coef * x[n, c, i] * s
        e += cuda.gridsize(1)


@cuda.jit
def _within_forward(x, size, alpha_n2, beta, one, scale, pw, y):
    P, H, W = x.shape
    pre = (size - 1) // 2
    e = cuda.grid(1)
    while e < x.size:
        p = e // (H * W)
        h = (e // W) % H
        w = e % W
        s = x.dtype.type(0)
        for a in range(max(0, h - pre), min(H, h + pre + 1)):
            for b in range(max(0, w - pre), min(W, w + pre + 1)):
                v = x[p, a, b]
                s += v * v
        s = one + alpha_n2 * s
        scale[p, h, w] = s
        q = _power(s, beta, one)
        pw[p, h, w] = q
        y[p, h, w] = x[p, h, w] * q
        e += cuda.gridsize(1)


@cuda.jit
def _within_backward(x, dy, pw, size, coef, ratio, dx):
    P, H, W = x.shape
    pre = (size - 1) // 2
    e = cuda.grid(1)
    while e < x.size:
        p = e // (H * W)
        h = (e // W) % H
        w = e % W
        s = x.dtype.type(0)
        for a in range(max(0, h - pre), min(H, h + pre + 1)):
            for b in range(max(0, w - pre), min(W, w + pre + 1)):
                s += ratio[p, a, b]
        dx[p, h, w] = dy[p, h, w] * pw[p, h, w] - coef * x[p, h, w] * s
        e += cuda.gridsize(1)


def _flat(a):
    return a.reshape(a.size)


def lrn_across_forward(x, size, alpha_n, beta, k, one, scale, pw, y):
    _across_forward[grid(x.size)](x, size, alpha_n, beta, k, one, scale, pw, y)


def lrn_across_backward(x, dy, scale, pw, size, coef, ratio, dx):
    """`coef` = 2 alpha beta / size; `ratio` is scratch of x's shape."""
    _ratio[grid(x.size)](_flat(dy), _flat(x), _flat(pw), _flat(scale), _flat(ratio))
    _across_backward[grid(x.size)](x, dy, pw, size, coef, ratio, dx)


def lrn_within_forward(x, size, alpha_n2, beta, one, rows, scale, pw, y):
    """`rows` (the CPU's separable-sum scratch) is not needed here."""
    _within_forward[grid(x.size)](x, size, alpha_n2, beta, one, scale, pw, y)


def lrn_within_backward(x, dy, scale, pw, size, coef, ratio, rows, dx):
    """`coef` = 2 alpha beta / size^2; `ratio` is scratch of x's shape."""
    _ratio[grid(x.size)](_flat(dy), _flat(x), _flat(pw), _flat(scale), _flat(ratio))
    _within_backward[grid(x.size)](x, dy, pw, size, coef, ratio, dx)
