"""Resize kernels driven by per-axis tables (Interp and Upsample share them).

Output row r reads input rows i0[r] and i1[r] with weights w0[r] and w1[r] (likewise for
columns): out = sum of the four taps, each weight the product of its row and column weight.
Bilinear and nearest (w1 = 0) resizes are both such tables; the backward scatters dy through
the same taps (serially, since taps overlap)."""
import math

from numba import njit


@njit(cache=True)
def align_corners_table(n_in, n_out, offset, i0, i1, w0, w1):
    """Caffe's Interp (align_corners): src = r (n_in - 1) / (n_out - 1), read from `offset`."""
    ratio = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    for r in range(n_out):
        src = ratio * r
        k = int(src)
        step = 1 if k < n_in - 1 else 0
        frac = src - k
        i0[r] = offset + k
        i1[r] = offset + k + step
        w0[r] = 1.0 - frac
        w1[r] = frac


@njit(cache=True)
def half_pixel_table(n_in, n_out, i0, i1, w0, w1):
    """PyTorch's bilinear with align_corners=False: src = (r + 0.5) n_in / n_out - 0.5,
    clamped at 0."""
    scale = n_in / n_out
    for r in range(n_out):
        src = (r + 0.5) * scale - 0.5
        if src < 0:
            src = 0.0
        k = int(src)
        step = 1 if k < n_in - 1 else 0
        frac = src - k
        i0[r] = k
        i1[r] = k + step
        w0[r] = 1.0 - frac
        w1[r] = frac


@njit(cache=True)
def nearest_table(n_in, n_out, i0, i1, w0, w1):
    """PyTorch's nearest: src = floor(r n_in / n_out)."""
    scale = n_in / n_out
    for r in range(n_out):
        k = min(math.floor(r * scale), n_in - 1)
        i0[r] = k
        i1[r] = k
        w0[r] = 1.0
        w1[r] = 0.0


@njit(cache=True)
def resize_forward(x, hi0, hi1, hw0, hw1, wi0, wi1, ww0, ww1, out):
    """x: (R, H, W), out: (R, H2, W2)."""
    rows, h2, w2 = out.shape
    for c in range(rows):
        for r in range(h2):
            a0 = hi0[r]
            a1 = hi1[r]
            u0 = hw0[r]
            u1 = hw1[r]
            for s in range(w2):
                b0 = wi0[s]
                b1 = wi1[s]
                v0 = ww0[s]
                v1 = ww1[s]
                out[c, r, s] = (u0 * (v0 * x[c, a0, b0] + v1 * x[c, a0, b1])
                                + u1 * (v0 * x[c, a1, b0] + v1 * x[c, a1, b1]))


@njit(cache=True)
def resize_backward(dy, hi0, hi1, hw0, hw1, wi0, wi1, ww0, ww1, dx):
    """dx (R, H, W) written: zero, then each dy spread over its four taps."""
    dx[...] = 0
    rows, h2, w2 = dy.shape
    for c in range(rows):
        for r in range(h2):
            a0 = hi0[r]
            a1 = hi1[r]
            u0 = hw0[r]
            u1 = hw1[r]
            for s in range(w2):
                g = dy[c, r, s]
                b0 = wi0[s]
                b1 = wi1[s]
                v0 = ww0[s]
                v1 = ww1[s]
                dx[c, a0, b0] += u0 * v0 * g
                dx[c, a0, b1] += u0 * v1 * g
                dx[c, a1, b0] += u1 * v0 * g
                dx[c, a1, b1] += u1 * v1 * g
