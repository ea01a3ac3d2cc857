"""Pooling kernels with Caffe's window rules, over (N, C, H, W) arrays.

Window of output (i, j): rows hs = i*sh - ph .. he = min(hs + kh, H), hs = max(hs, 0)
(columns alike). MAX keeps the flat index h*W + w of the maximum (first one on ties) so
that backward routes dy there; AVE divides by the window clipped to the *padded* input,
min(hs + kh, H + ph) - hs before clipping to the image, as Caffe does. Each (n, c) plane
is owned by one prange iteration.
"""
import numpy as np
from numba import njit, prange

from .im2col import pad_plane
from .simd import (lanes, vadd, vdiv, vgather, vload, vload_index, vselect_gt, vshift,
                   vstore, vzero)


EMPTY = -3.4028234663852886e38   # Caffe's -FLT_MAX: the max of a window with no pixel


@njit(cache=True, inline="always")
def _max_window(x, hs, he, ws, we, W):
    """Max of the plane x[hs:he, ws:we] and its flat index (first one on ties); a window
    with no pixel (ceil rounding, no padding) gives Caffe's -FLT_MAX and index -1."""
    if hs >= he or ws >= we:
        return x.dtype.type(EMPTY), -1
    best = x[hs, ws]
    arg = hs * W + ws
    for a in range(hs, he):
        for b in range(ws, we):
            v = x[a, b]
            if v > best:
                best = v
                arg = a * W + b
    return best, arg


def max_pool_plan(h, w, kh, kw, sh, sw, ph, pw, oh, ow, dtype, chunks):
    """Tables and buffers of max_pool_forward, made once per shape: for each output pixel
    (int32 rows) the window's origin in a plane padded with -inf, its first in-image
    element there and as an image index, and the origin as an image index; `chunks`
    padded planes whose -inf borders are never overwritten; and the outputs whose window
    holds no pixel (Caffe's ceil rounding without padding can start a last window past
    the image): they get -FLT_MAX and index -1, as in Caffe, and pass no gradient."""
    i = np.repeat(np.arange(oh), ow) * sh
    j = np.tile(np.arange(ow), oh) * sw
    hp, wp = max(i[-1] + kh, h + ph), max(j[-1] + kw, w + pw)
    fh, fw = np.maximum(i, ph), np.maximum(j, pw)
    empty = (fh >= h + ph) | (fw >= w + pw)
    first = np.where(empty, -1, (fh - ph) * w + fw - pw)
    fh, fw = np.where(empty, i, fh), np.where(empty, j, fw)     # then: a -inf cell
    if hp * wp >= 2 ** 31:
        raise ValueError(f"a padded plane of {hp}x{wp} is too large for int32 offsets")
    tables = np.stack([i * wp + j, fh * wp + fw, first,
                       (i - ph) * w + j - pw]).astype(np.int32)
    planes = np.full((chunks, hp, wp), -np.inf, dtype)
    return tables, planes, np.flatnonzero(empty).astype(np.int32)


@njit(cache=True, parallel=True)
def max_pool_forward(x, kh, kw, sh, sw, ph, pw, y, mask, tables, planes, empty):
    """y[n, c, i, j] = max over the window; mask (int32, y's shape) gets its flat index
    (the first maximum in row-major order). tables, planes: from max_pool_plan.

    Each plane is copied into a -inf padded one, so that every window is whole; then L
    output pixels (vector lanes, 16 float32) go at once: per tap one gather, one compare
    and two selects. Scanning window by window, `if v > best` mispredicted about once per
    window on real data: 3 us per 32x32 plane against 0.6 now. Planes with fewer outputs
    than lanes go window by window."""
    N, C, H, W = x.shape
    oh, ow = y.shape[2], y.shape[3]
    P = oh * ow
    chunks, hp, wp = planes.shape
    L = lanes(y[0, 0, 0])
    for t in prange(chunks):
        buf = planes[t].reshape(hp * wp)
        for nc in range(t * N * C // chunks, (t + 1) * N * C // chunks):
            n = nc // C
            c = nc % C
            if P < L:
                for i in range(oh):
                    hs = max(i * sh - ph, 0)
                    he = min(i * sh - ph + kh, H)
                    for j in range(ow):
                        ws = j * sw - pw
                        y[n, c, i, j], mask[n, c, i, j] = _max_window(
                            x[n, c], hs, he, max(ws, 0), min(ws + kw, W), W)
                continue
            pad_plane(x[n, c], ph, pw, wp, buf, 0)
            yf = y[n, c].reshape(P)
            mf = mask[n, c].reshape(P)
            for p in range(0, P, L):
                p0 = min(p, P - L)               # the last block overlaps the one before
                origin = vload_index(tables[0], p0, buf)
                best = vgather(buf, 0, vload_index(tables[1], p0, buf))
                arg = vload_index(tables[2], p0, buf)
                index = vload_index(tables[3], p0, buf)
                for a in range(kh):
                    for b in range(kw):
                        v = vgather(buf, a * wp + b, origin)
                        arg = vselect_gt(v, best, vshift(index, a * W + b), arg)
                        best = vselect_gt(v, best, v, best)
                vstore(yf, p0, best)
                vstore(mf, p0, arg)
            for e in empty:
                yf[e] = EMPTY


@njit(cache=True, parallel=True)
def max_pool_backward(dy, mask, dx):
    """dx (written whole) = dy routed to the argmax of each window (summed where windows
    overlap)."""
    N, C, H, W = dx.shape
    oh, ow = dy.shape[2], dy.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        d = dx[n, c].reshape(H * W)
        g = dy[n, c].reshape(oh * ow)
        m = mask[n, c].reshape(oh * ow)
        d[:] = 0
        for k in range(oh * ow):
            if m[k] >= 0:                  # -1: a window with no pixel
                d[m[k]] += g[k]


@njit(cache=True, parallel=True)
def mask_to_float(mask, out):
    """Caffe's optional second top of MAX pooling: the argmax index as a float."""
    flat = mask.reshape(-1)
    o = out.reshape(-1)
    for i in prange(flat.size):
        o[i] = flat[i]


def ave_pool_plan(h, w, kh, kw, sh, sw, ph, pw, oh, ow, dtype, chunks):
    """Tables and buffers of the AVE kernels, made once per shape: each output's window
    origin in a zero-padded plane and its divisor (Caffe's: the window clipped to the
    padded input); for each input pixel the outputs whose windows cover it, in window
    order, padded with oh*ow (a slot that holds 0); `chunks` zero-padded planes and
    gradient rows."""
    i = np.repeat(np.arange(oh), ow) * sh
    j = np.tile(np.arange(ow), oh) * sw
    hp, wp = max(i[-1] + kh, h + ph), max(j[-1] + kw, w + pw)
    size = ((np.minimum(i + kh, h + 2 * ph) - i) * (np.minimum(j + kw, w + 2 * pw) - j))
    p_all, q_all = [], []
    for a in range(kh):
        for b in range(kw):
            r, c = i - ph + a, j - pw + b
            ok = (r >= 0) & (r < h) & (c >= 0) & (c < w)
            p_all.append(np.flatnonzero(ok))
            q_all.append((r * w + c)[ok])
    p_all, q_all = np.concatenate(p_all), np.concatenate(q_all)
    order = np.lexsort((p_all, q_all))                   # by pixel, then window order
    p_all, q_all = p_all[order], q_all[order]
    rank = np.arange(q_all.size) - np.searchsorted(q_all, q_all)
    cover = np.full((max(rank.max() + 1, 1), h * w), oh * ow, np.int32)
    cover[rank, q_all] = p_all
    planes = np.zeros((chunks, hp, wp), dtype)
    grads = np.zeros((chunks, oh * ow + 1), dtype)
    if hp * wp >= 2 ** 31:
        raise ValueError(f"a padded plane of {hp}x{wp} is too large for int32 offsets")
    return (i * wp + j).astype(np.int32), size.astype(dtype), cover, planes, grads


@njit(cache=True, parallel=True)
def ave_pool_forward(x, kh, kw, sh, sw, ph, pw, y, origins, sizes, cover, planes, grads):
    """y = sum over the window clipped to the image / size of the window clipped to the
    padded input. Each plane is copied into a zero-padded one, then L outputs go at once
    (one gather per tap); planes with fewer outputs than lanes, window by window."""
    N, C, H, W = x.shape
    oh, ow = y.shape[2], y.shape[3]
    P = oh * ow
    chunks, hp, wp = planes.shape
    L = lanes(y[0, 0, 0])
    for t in prange(chunks):
        buf = planes[t].reshape(hp * wp)
        for nc in range(t * N * C // chunks, (t + 1) * N * C // chunks):
            n = nc // C
            c = nc % C
            if P < L:
                _ave_windows(x[n, c], kh, kw, sh, sw, ph, pw, y[n, c])
                continue
            pad_plane(x[n, c], ph, pw, wp, buf, 0)
            yf = y[n, c].reshape(P)
            for p in range(0, P, L):
                p0 = min(p, P - L)               # the last block overlaps the one before
                origin = vload_index(origins, p0, buf)
                s = vzero(buf)
                for a in range(kh):
                    for b in range(kw):
                        s = vadd(s, vgather(buf, a * wp + b, origin))
                vstore(yf, p0, vdiv(s, vload(sizes, p0)))


@njit(cache=True, inline="always")
def _ave_windows(x, kh, kw, sh, sw, ph, pw, y):
    """One plane of AVE pooling, window by window."""
    H, W = x.shape
    oh, ow = y.shape
    for i in range(oh):
        hs = i * sh - ph
        he = min(hs + kh, H + ph)
        hsize = he - hs
        hs = max(hs, 0)
        he = min(he, H)
        for j in range(ow):
            ws = j * sw - pw
            we = min(ws + kw, W + pw)
            size = hsize * (we - ws)
            ws = max(ws, 0)
            we = min(we, W)
            s = x[0, 0] * 0
            for a in range(hs, he):
                for b in range(ws, we):
                    s += x[a, b]
            y[i, j] = s / size


@njit(cache=True, parallel=True)
def ave_pool_backward(dy, kh, kw, sh, sw, ph, pw, dx, origins, sizes, cover, planes, grads):
    """dx (written whole): each pixel sums dy / size over the windows that cover it, in
    window order (the order the window-by-window scatter added them in), L pixels at a
    time with one gather per covering window."""
    N, C, H, W = dx.shape
    P = dy.shape[2] * dy.shape[3]
    chunks = grads.shape[0]
    L = lanes(grads[0])
    for t in prange(chunks):
        g = grads[t]                     # g[P] stays 0: the slot of "no window"
        for nc in range(t * N * C // chunks, (t + 1) * N * C // chunks):
            n = nc // C
            c = nc % C
            d = dy[n, c].reshape(P)
            for p in range(P):
                g[p] = d[p] / sizes[p]
            dxf = dx[n, c].reshape(H * W)
            if H * W < L:
                for q in range(H * W):
                    s = g[P] * 0
                    for k in range(cover.shape[0]):
                        s += g[cover[k, q]]
                    dxf[q] = s
                continue
            for q in range(0, H * W, L):
                q0 = min(q, H * W - L)
                s = vzero(g)
                for k in range(cover.shape[0]):
                    s = vadd(s, vgather(g, 0, vload_index(cover[k], q0, g)))
                vstore(dxf, q0, s)




@njit(cache=True, nogil=True, fastmath={"reassoc"})
def global_ave_forward(x, y):
    """Global AVE pooling: y[r] = mean of the row x[r] (x: (N C, H W), y: (N C,)), one
    thread. The windowed kernels pay a parallel region and a padded copy per plane, 16x
    PyTorch's time on MobileNet's 1024 planes of 7x7; a row sum is all this needs."""
    n = x.shape[1]
    for r in range(x.shape[0]):
        row = x[r]
        s = row[0] * 0
        for i in range(n):
            s += row[i]
        y[r] = s / n


@njit(cache=True, nogil=True)
def global_ave_backward(dy, dx):
    """dx[r, :] = dy[r] / (H W)."""
    n = dx.shape[1]
    for r in range(dx.shape[0]):
        g = dy[r] / n
        row = dx[r]
        for i in range(n):
            row[i] = g
