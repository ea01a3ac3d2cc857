"""Direct convolution kernels (no im2col) for ungrouped convolutions.

All three products of a convolution are one pattern: a block of R x W outputs (W = V L,
L = vector lanes) accumulated in registers as

    acc[r, :] = sum_i x[rows[r] + offs[i]] * b[i, :]

where x is one zero-padded image (flat), `rows` and `offs` are element offsets into it
and b is a (n, W) panel. Each step loads V vectors of b, broadcasts R values of x and
does R V fused multiply-adds (`simd.vtile`). The tile shape (R, V) is an argument of every
kernel (`tile_shape(R, V)`, one compiled kernel per shape); conv_plan.py picks it for the
CPU (its vector width and register file, isa.py) and the layer's shape, by measuring.
On one AVX-512 core a 10 x 2 tile runs 150-175 GFLOP/s, where OpenBLAS reaches 60-110
GFLOP/s on the thin products of im2col.

- forward: rows = output pixels (oh sh Wp + ow sw), offs = taps (ki, c, kj), b = the
  weights as (kh C kw, M) panels of W output channels; each tile sums only the kernel
  rows that reach the image from one of its pixels (`tap_spans`);
- weight gradient: rows = taps (c, ki, kj), offs = output pixels, b = dY as (P, M) panels;
- data gradient, two ways (conv_plan.py picks one):
  "full": for stride 1, a forward convolution of dY zero-padded by d (k - 1) - pad with
  the flipped, transposed weights (panels of W input channels); it multiplies some
  padding zeros, which is cheap for large images with many channels (cifar10-quick);
  "columns": dcol = W^T dY (rows = taps, offs = output channels into W, b = dY as panels
  of W pixels), then col2im adds each column into the image: no zeros multiplied, any
  stride (LeNet's conv2, with 8x8 outputs and 20 channels, is 2x faster this way).

Panels are padded with zero lanes to a multiple of W channels and `rows` to a multiple
of R (repeating the last offset); the padded results are computed and dropped.
"""
import numpy as np
from numba import njit

from .im2col import _valid_range, pad_plane
from .simd import VECTOR_BYTES, lanes, vadd, vload_n, vstore_n, vtile


def tile_shape(rows, vecs):
    """The tile argument of the kernels: ((0,) * rows, (0,) * vecs), a type per shape."""
    return ((0,) * rows, (0,) * vecs)


@njit(cache=True, nogil=True)
def tile(x, rows, r0, offs, i0, i1, b, b0, acc, at, shape):
    """acc[at + W r : at + W (r+1)] = sum_{i0 <= i < i1} x[rows[r0+r] + offs[i]] *
    b[b0 + W i : b0 + W (i+1)] for r < R (W = V L, shape as tile_shape(R, V)): one
    register block of a product whose left factor is gathered from x (simd.vtile)."""
    vtile(x, rows, r0, offs, i0, i1, b, b0, acc, at, shape)


@njit(cache=True, nogil=True, inline="always")
def _pad_into(x, ph, pw, xp):
    """The interior of the padded image xp (flat, C x Hp x Wp; borders stay 0) = x (C, H, W)."""
    C, H, W = x.shape
    Hp, Wp = H + 2 * ph, W + 2 * pw
    for c in range(C):
        pad_plane(x[c], ph, pw, Wp, xp, c * Hp * Wp)


@njit(cache=True, nogil=True)
def conv_forward(x, n0, n1, ph, pw, rows, offs, spans, panels, bias, has_bias, xp, stage, y,
                 shape, p0, p1):
    """y[n, :, p0:p1] (of M x P) = conv(x[n] padded by ph, pw) (+ bias) for n in [n0, n1),
    output pixels [p0, p1) (p0 a multiple of R; p1 = -1: to P; a batch smaller than the
    threads splits each image's pixels among them; no default values: a call that left
    them out went through Numba's slow dispatch, 0.5 ms a call). rows: P pixel offsets (padded to a
    multiple of R), offs: the taps' offsets, kernel row outermost; spans[t // R]: the
    taps [lo, hi) whose kernel rows reach into the image from some pixel of tile t (the
    others would multiply padding zeros); panels: the weights as (blocks, taps, W); xp:
    this thread's padded image; stage: (len(rows), W), one panel of results, moved into y
    channel by channel (contiguous writes; scattering each tile into y's channels was a
    third of conv1's time)."""
    M, P = y.shape[1], y.shape[2]
    p1 = P if p1 < 0 else min(p1, P)
    K = offs.size
    R, w = len(shape[0]), len(shape[1]) * lanes(xp)
    for n in range(n0, n1):
        _pad_into(x[n], ph, pw, xp)
        for jb in range(panels.size // (K * w)):
            for t in range(p0, p1, R):
                vtile(xp, rows, t, offs, spans[t // R, 0], spans[t // R, 1], panels,
                      jb * K * w, stage, t * w, shape)
            for j in range(min(w, M - jb * w)):
                m = jb * w + j
                b = bias[m] if has_bias else stage[0] * 0
                for p in range(p0, p1):
                    y[n, m, p] = stage[p * w + j] + b


@njit(cache=True, nogil=True, fastmath=True)
def _sum(v):
    """Sum of a contiguous row, vectorized (fastmath lets it reassociate into lanes; a
    serial sum is one dependent add per element, 4 cycles each)."""
    s = v[0] * 0
    for i in range(v.size):
        s += v[i]
    return s


@njit(cache=True, nogil=True)
def conv_weight_grad(x, dy, n0, n1, ph, pw, taps, pixels, xp, dyp, acc, dw, db, has_bias,
                     shape):
    """dw (blocks, len(taps), W) += sum over n in [n0, n1) of the product of the taps of
    x[n] with dy[n] (M, P); db[m] += sum of dy[n, m].

    Images go in groups of G = len(pixels) / P: xp holds G padded images one after the
    other, `pixels` the P pixel offsets of each, and dyp (blocks, G P, W) their dY panels
    (padded lanes stay 0), so that one tile sums over G P pixels: LeNet's conv2 has only
    64 pixels per image, too short a loop to pay for loading and storing the tile."""
    M, P = dy.shape[1], dy.shape[2]
    R, w = len(shape[0]), len(shape[1]) * lanes(xp)
    kp = taps.size
    group = pixels.size // P
    image = xp.size // group
    rows = dyp.size // w // (-(-M // w))          # G P
    for g0 in range(n0, n1, group):
        g1 = min(g0 + group, n1)
        for n in range(g0, g1):
            _pad_into(x[n], ph, pw, xp[(n - g0) * image:(n - g0 + 1) * image])
            for m in range(M):
                if has_bias:
                    db[m] += _sum(dy[n, m])
            for jb in range(-(-M // w)):
                for p in range(P):
                    o = (jb * rows + (n - g0) * P + p) * w
                    for j in range(min(w, M - jb * w)):
                        dyp[o + j] = dy[n, jb * w + j, p]
        for jb in range(-(-M // w)):
            for t in range(0, kp, R):
                vtile(xp, taps, t, pixels, 0, (g1 - g0) * P, dyp, jb * rows * w, acc, 0, shape)
                base = (jb * kp + t) * w
                for q in range(R * w):
                    dw[base + q] += acc[q]


@njit(cache=True, nogil=True)
def conv_data_grad_columns(dy, n0, n1, w, taps, channels, kh, kw, sh, sw, ph, pw, dh, dw,
                           panel, stage, dx, shape):
    """dx[n] = col2im(W^T dy[n]) for n in [n0, n1). w: the weights (M, C kh kw) flat;
    taps: 0 .. C kh kw - 1 padded to R; channels: m * C kh kw; panel (blocks, M, W):
    dy[n] as panels of W pixels; stage (blocks, len(taps), W): the columns."""
    M, P = dy.shape[1], dy.shape[2] * dy.shape[3]
    ow = dy.shape[3]
    C = dx.shape[1]
    R, lw = len(shape[0]), len(shape[1]) * lanes(w)
    kp = taps.size
    for n in range(n0, n1):
        d = dy[n].reshape(M, P)
        for m in range(M):
            for p in range(P):
                panel[((p // lw) * M + m) * lw + p % lw] = d[m, p]
        for jb in range(-(-P // lw)):
            for t in range(0, kp, R):
                vtile(w, taps, t, channels, 0, M, panel, jb * M * lw, stage, (jb * kp + t) * lw,
                      shape)
        dx[n] = 0
        planes = dx[n].reshape(C, dx.shape[2] * dx.shape[3])
        for a in range(kh):
            ilo, ihi = _valid_range(dy.shape[2], sh, a * dh - ph, dx.shape[2])
            for b in range(kw):
                jlo, jhi = _valid_range(ow, sw, b * dw - pw, dx.shape[3])
                for i in range(ilo, ihi):
                    _add_columns(stage, (a * kw + b), kh * kw, kp, lw, ow, i, jlo, jhi,
                                 (i * sh + a * dh - ph) * dx.shape[3] + b * dw - pw, sw,
                                 planes)


@njit(cache=True, nogil=True, inline="always")
def _add_columns(stage, tap, taps_per_channel, kp, lw, ow, i, jlo, jhi, o, sw, planes):
    """planes[c, o + j sw] += column (c, tap) at output pixel (i, j) for j in [jlo, jhi),
    every channel c. With stride 1 each row segment (within one lane block) is one masked
    vector add. Channels go innermost: consecutive adds into one plane overlap (a masked
    store, then a load of the next row through it), and each such pair waited for the
    store (col2im took 1.65 ms for LeNet's conv2 that way, 0.36 ms this way)."""
    L = lanes(stage)
    j = jlo
    while j < jhi:
        blk = (i * ow + j) // lw
        end = min(jhi, (blk + 1) * lw - i * ow, j + L)
        n = end - j
        for c in range(planes.shape[0]):
            base = (blk * kp + c * taps_per_channel + tap) * lw + i * ow - blk * lw
            plane = planes[c]
            if sw == 1:
                vstore_n(plane, o + j, vadd(vload_n(plane, o + j, n),
                                            vload_n(stage, base + j, n)), n)
            else:
                for q in range(j, end):
                    plane[o + q * sw] += stage[base + q]
        j = end


@njit(cache=True, nogil=True)
def unpanel_add(dw, k, out, vecs):
    """out (M, k) += dw (blocks, kp >= k, vecs L) read back as (M, k)."""
    M = out.shape[0]
    w = vecs * lanes(dw)
    kp = dw.size // (-(-M // w) * w)
    for m in range(M):
        jb, j = m // w, m % w
        for i in range(k):
            out[m, i] += dw[(jb * kp + i) * w + j]


@njit(cache=True, nogil=True)
def panel_weights(w4, panels, vecs):
    """panels (blocks, kh C kw, W)[jb, (a*C + c)*kw + b, j] = w4 (M, C, kh, kw)[jb*W + j,
    c, a, b], W = vecs L: taps in forward's order (kernel row outermost); lanes past M
    stay 0."""
    M, C, kh, kw = w4.shape
    w = vecs * lanes(panels)
    K = C * kh * kw
    for m in range(M):
        jb, j = m // w, m % w
        for a in range(kh):
            for c in range(C):
                for b in range(kw):
                    panels[(jb * K + (a * C + c) * kw + b) * w + j] = w4[m, c, a, b]


@njit(cache=True, nogil=True)
def panel_weights_flipped(w4, panels, vecs):
    """panels (blocks, kh M kw, W)[jb, (a*M + m)*kw + b, j] = w4[m, jb*W + j, kh-1-a,
    kw-1-b], W = vecs L: the weights of the data gradient as a forward convolution of dY."""
    M, C, kh, kw = w4.shape
    w = vecs * lanes(panels)
    K = M * kh * kw
    for c in range(C):
        jb, j = c // w, c % w
        for a in range(kh):
            for m in range(M):
                for b in range(kw):
                    panels[(jb * K + (a * M + m) * kw + b) * w + j] = \
                        w4[m, c, kh - 1 - a, kw - 1 - b]


def lanes_of(dtype, vecs):
    """vecs L: the channels (or pixels) one panel of a tile with vecs vectors holds."""
    return vecs * VECTOR_BYTES // np.dtype(dtype).itemsize


def pixel_offsets(oh, ow, wp, sh, sw, rows):
    """Offsets of the output pixels' windows in a padded image of width wp, padded to a
    multiple of `rows` by repeating the last."""
    p = (np.arange(oh)[:, None] * sh * wp + np.arange(ow)[None, :] * sw).ravel()
    return pad_rows(p, rows)


def tap_offsets(c, kh, kw, dh, dw, hp, wp, row_major=False):
    """Offsets of the taps (c, ki, kj) in a padded image of (c, hp, wp); with row_major,
    in the order (ki, c, kj) of forward's panels."""
    o = (np.arange(c)[:, None, None] * (hp * wp) + np.arange(kh)[None, :, None] * dh * wp
         + np.arange(kw)[None, None, :] * dw)
    return (o.transpose(1, 0, 2) if row_major else o).ravel().astype(np.int64)


def tap_spans(oh, ow, h, kh, sh, ph, dh, taps_per_row, rows):
    """For each tile of `rows` output pixels, the taps [lo, hi) (kernel row outermost,
    taps_per_row each) of the kernel rows a that land inside the image rows [0, h) for some
    pixel of the tile: input row = i sh - ph + a dh for output row i."""
    p = np.minimum(np.arange(-(-oh * ow // rows) * rows), oh * ow - 1) // ow
    first, last = p[::rows], p[rows - 1::rows]
    lo = np.maximum(0, -((last * sh - ph) // dh))                    # ceil((ph - i sh) / dh)
    hi = np.minimum(kh - 1, (h - 1 + ph - first * sh) // dh)
    hi = np.maximum(hi, lo - 1)                                      # empty: no kernel row
    return np.stack([lo * taps_per_row, (hi + 1) * taps_per_row], axis=1).astype(np.int64)


def image_group(pixels):
    """How many images the weight gradient sums over in one tile: about 512 pixels."""
    return max(1, min(8, 512 // pixels))


def group_offsets(pixels, group, image):
    """The pixel offsets of `group` images laid one after the other, `image` apart."""
    return (np.arange(group)[:, None] * image + pixels[None, :]).ravel().astype(np.int64)


def pad_rows(offsets, rows):
    """offsets padded to a multiple of `rows` by repeating the last one."""
    n = -(-offsets.size // rows) * rows
    out = np.full(n, offsets[-1], np.int64)
    out[:offsets.size] = offsets
    return out
