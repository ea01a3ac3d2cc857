"""Pooling kernels with Caffe's window rules over (N, C, H, W) device arrays, the CUDA twins
of kernels/cpu/pooling.py with the same arguments and results. The trailing plan arguments
(the CPU's padded planes and gather tables, host arrays made by max_pool_plan /
ave_pool_plan) serve its vector lanes and are ignored here: a thread per output needs none.

Window of output (i, j): rows hs = i*sh - ph .. he = min(hs + kh, H), hs = max(hs, 0)
(columns alike). MAX keeps the flat index h*W + w of the maximum (first one on ties); a
window with no pixel (Caffe's ceil rounding without padding) gives -FLT_MAX and index -1
and passes no gradient. AVE divides by the window clipped to the *padded* input.
Forward: one thread per output. MAX backward: one thread per (n, c) plane routes dy to the
argmax in output order, as the CPU loop does (the same bits; N*C threads, no atomics).
AVE backward: one thread per input pixel, gathering over the windows that cover it in
window order (Caffe's GPU scheme)."""
from numba import cuda

from .launch import grid

EMPTY = -3.4028234663852886e38   # Caffe's -FLT_MAX


@cuda.jit(device=True, inline=True)
def _covering(a, k, s, p, out_count):
    """[lo, hi) of the windows along one axis whose span [o*s - p, o*s - p + k) holds a."""
    lo = 0 if a + p < k else (a + p - k) // s + 1
    hi = min((a + p) // s + 1, out_count)
    return lo, hi


@cuda.jit
def _max_forward(x, kh, kw, sh, sw, ph, pw, y, mask):
    N, C, H, W = x.shape
    oh, ow = y.shape[2], y.shape[3]
    e = cuda.grid(1)
    while e < y.size:
        n = e // (C * oh * ow)
        c = (e // (oh * ow)) % C
        i = (e // ow) % oh
        j = e % ow
        hs = i * sh - ph
        ws = j * sw - pw
        he = min(hs + kh, H)
        we = min(ws + kw, W)
        hs = max(hs, 0)
        ws = max(ws, 0)
        if hs >= he or ws >= we:
            y[n, c, i, j] = EMPTY
            mask[n, c, i, j] = -1
        else:
            best = x[n, c, hs, ws]
            arg = hs * W + ws
            for a in range(hs, he):
                for b in range(ws, we):
                    v = x[n, c, a, b]
                    if v > best:
                        best = v
                        arg = a * W + b
            y[n, c, i, j] = best
            mask[n, c, i, j] = arg
        e += cuda.gridsize(1)


@cuda.jit
def _max_backward(dy, mask, dx):
    N, C, H, W = dx.shape
    oh, ow = dy.shape[2], dy.shape[3]
    zero = dx.dtype.type(0)
    nc = cuda.grid(1)
    while nc < N * C:
        n = nc // C
        c = nc % C
        for q in range(H * W):
            dx[n, c, q // W, q % W] = zero
        for k in range(oh * ow):
            m = mask[n, c, k // ow, k % ow]
            if m >= 0:                     # -1: a window with no pixel
                dx[n, c, m // W, m % W] += dy[n, c, k // ow, k % ow]
        nc += cuda.gridsize(1)


@cuda.jit(device=True, inline=True)
def _ave_size(i, j, kh, kw, sh, sw, ph, pw, H, W):
    """Caffe's divisor: the window clipped to the padded input."""
    hs = i * sh - ph
    ws = j * sw - pw
    return (min(hs + kh, H + ph) - hs) * (min(ws + kw, W + pw) - ws)


@cuda.jit
def _ave_forward(x, kh, kw, sh, sw, ph, pw, y):
    N, C, H, W = x.shape
    oh, ow = y.shape[2], y.shape[3]
    e = cuda.grid(1)
    while e < y.size:
        n = e // (C * oh * ow)
        c = (e // (oh * ow)) % C
        i = (e // ow) % oh
        j = e % ow
        size = _ave_size(i, j, kh, kw, sh, sw, ph, pw, H, W)
        hs = max(i * sh - ph, 0)
        ws = max(j * sw - pw, 0)
        he = min(i * sh - ph + kh, H)
        we = min(j * sw - pw + kw, W)
        s = y.dtype.type(0)
        for a in range(hs, he):
            for b in range(ws, we):
                s += x[n, c, a, b]
        y[n, c, i, j] = s / y.dtype.type(size)
        e += cuda.gridsize(1)


@cuda.jit
def _ave_backward(dy, kh, kw, sh, sw, ph, pw, dx):
    N, C, H, W = dx.shape
    oh, ow = dy.shape[2], dy.shape[3]
    e = cuda.grid(1)
    while e < dx.size:
        n = e // (C * H * W)
        c = (e // (H * W)) % C
        a = (e // W) % H
        b = e % W
        ilo, ihi = _covering(a, kh, sh, ph, oh)
        jlo, jhi = _covering(b, kw, sw, pw, ow)
        s = dx.dtype.type(0)
        for i in range(ilo, ihi):
            for j in range(jlo, jhi):
                size = _ave_size(i, j, kh, kw, sh, sw, ph, pw, H, W)
                s += dy[n, c, i, j] / dx.dtype.type(size)
        dx[n, c, a, b] = s
        e += cuda.gridsize(1)


@cuda.jit
def _mask_to_float(mask, out):
    i = cuda.grid(1)
    while i < mask.size:
        out[i] = mask[i]
        i += cuda.gridsize(1)


def max_pool_forward(x, kh, kw, sh, sw, ph, pw, y, mask, *plan):
    """y = max over each window; mask (int32, y's shape) its flat index in the plane."""
    _max_forward[grid(y.size)](x, kh, kw, sh, sw, ph, pw, y, mask)


def max_pool_backward(dy, mask, dx):
    """dx (written whole) = dy routed to the argmax of each window, summed where windows
    overlap."""
    _max_backward[grid(dx.shape[0] * dx.shape[1])](dy, mask, dx)


def mask_to_float(mask, out):
    """Caffe's optional second top of MAX pooling: the argmax index as a float."""
    mask, out = mask.reshape(mask.size), out.reshape(out.size)
    _mask_to_float[grid(mask.size)](mask, out)


def ave_pool_forward(x, kh, kw, sh, sw, ph, pw, y, *plan):
    _ave_forward[grid(y.size)](x, kh, kw, sh, sw, ph, pw, y)


def ave_pool_backward(dy, kh, kw, sh, sw, ph, pw, dx, *plan):
    """dx (written whole): each pixel sums dy / size over the windows that cover it."""
    _ave_backward[grid(dx.size)](dy, kh, kw, sh, sw, ph, pw, dx)
