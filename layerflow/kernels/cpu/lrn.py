"""LRN kernels (Caffe's local response normalization).

Across channels, on an (N, C, HW) view, window of `size` channels centred on c:
    scale[n, c, i] = k + alpha / size * sum_{j in window(c)} x[n, j, i]^2
    y = x * scale^-beta
    dx = dy * scale^-beta - (2 alpha beta / size) * x * sum_{j in window(c)} dy_j y_j / scale_j
Within a channel, on a (P, H, W) view (P = N*C), a size x size window with zero padding:
    scale = 1 + alpha / size^2 * sum_{window} x^2 (the window sums are separable: rows, then
    columns), and the same gradient with size^2 in place of size.
`pw` keeps scale^-beta from the forward pass so that backward needs no pow. A general pow
costs ~30 ns an element; the usual betas (0.75, 0.5, 1) use square roots instead (5x faster).
"""
import math

from numba import njit


@njit(cache=True, inline="always")
def neg_pow(s, beta):
    """s ** -beta, by square roots for beta 0.75, 0.5 and 1."""
    if beta == 0.75:
        return 1.0 / math.sqrt(s * math.sqrt(s))
    if beta == 0.5:
        return 1.0 / math.sqrt(s)
    if beta == 1.0:
        return 1.0 / s
    return s ** -beta


@njit(cache=True)
def lrn_across_forward(x, size, alpha_n, beta, k, scale, pw, y):
    N, C, HW = x.shape
    pre = (size - 1) // 2
    for n in range(N):
        for c in range(C):
            lo = max(0, c - pre)
            hi = min(C, c + pre + 1)
            for i in range(HW):
                scale[n, c, i] = 0.0
            for j in range(lo, hi):
                for i in range(HW):
                    v = x[n, j, i]
                    scale[n, c, i] += v * v
            for i in range(HW):
                s = k + alpha_n * scale[n, c, i]
                scale[n, c, i] = s
                p = neg_pow(s, beta)
                pw[n, c, i] = p
                y[n, c, i] = x[n, c, i] * p


@njit(cache=True)
def lrn_across_backward(x, dy, scale, pw, size, coef, ratio, dx):
    """`coef` = 2 alpha beta / size; `ratio` is scratch of x's shape."""
    N, C, HW = x.shape
    pre = (size - 1) // 2
    for n in range(N):
        for c in range(C):
            for i in range(HW):
                ratio[n, c, i] = dy[n, c, i] * x[n, c, i] * pw[n, c, i] / scale[n, c, i]
        for c in range(C):
            lo = max(0, c - pre)
            hi = min(C, c + pre + 1)
            for i in range(HW):
                dx[n, c, i] = 0.0
            for j in range(lo, hi):
                for i in range(HW):
                    dx[n, c, i] += ratio[n, j, i]
            for i in range(HW):
                dx[n, c, i] = dy[n, c, i] * pw[n, c, i] - coef * x[n, c, i] * dx[n, c, i]


@njit(cache=True)
def _row_window_sums(a, square, size, out):
    """out[p, h, w] = sum_{|w' - w| <= pre} f(a[p, h, w']), f = square or identity."""
    P, H, W = a.shape
    pre = (size - 1) // 2
    for p in range(P):
        for h in range(H):
            for w in range(W):
                lo = max(0, w - pre)
                hi = min(W, w + pre + 1)
                s = 0.0
                for v in range(lo, hi):
                    e = a[p, h, v]
                    s += e * e if square else e
                out[p, h, w] = s


@njit(cache=True)
def lrn_within_forward(x, size, alpha_n2, beta, rows, scale, pw, y):
    """`alpha_n2` = alpha / size^2; `rows` is scratch of x's shape."""
    P, H, W = x.shape
    pre = (size - 1) // 2
    _row_window_sums(x, True, size, rows)
    for p in range(P):
        for h in range(H):
            lo = max(0, h - pre)
            hi = min(H, h + pre + 1)
            for w in range(W):
                scale[p, h, w] = 0.0
            for u in range(lo, hi):
                for w in range(W):
                    scale[p, h, w] += rows[p, u, w]
            for w in range(W):
                s = 1.0 + alpha_n2 * scale[p, h, w]
                scale[p, h, w] = s
                q = neg_pow(s, beta)
                pw[p, h, w] = q
                y[p, h, w] = x[p, h, w] * q


@njit(cache=True)
def lrn_within_backward(x, dy, scale, pw, size, coef, ratio, rows, dx):
    """`coef` = 2 alpha beta / size^2; `ratio` and `rows` are scratch of x's shape."""
    P, H, W = x.shape
    pre = (size - 1) // 2
    for p in range(P):
        for h in range(H):
            for w in range(W):
                ratio[p, h, w] = dy[p, h, w] * x[p, h, w] * pw[p, h, w] / scale[p, h, w]
    _row_window_sums(ratio, False, size, rows)
    for p in range(P):
        for h in range(H):
            lo = max(0, h - pre)
            hi = min(H, h + pre + 1)
            for w in range(W):
                dx[p, h, w] = 0.0
            for u in range(lo, hi):
                for w in range(W):
                    dx[p, h, w] += rows[p, u, w]
            for w in range(W):
                dx[p, h, w] = dy[p, h, w] * pw[p, h, w] - coef * x[p, h, w] * dx[p, h, w]
