"""Depthwise convolution kernels, direct (no im2col): output channel m reads only input
channel c = m // mult (mult = num_output / channels), with a (kh, kw) filter W[m, 0].

    y[n, m, i, j]  = b[m] + sum_{a, b} W[m, 0, a, b] x[n, c, i sh - ph + a dh, j sw - pw + b dw]
    dW[m, 0, a, b] += sum_{n, i, j} dy[n, m, i, j] x[n, c, i sh - ph + a dh, j sw - pw + b dw]
    db[m]          += sum_{n, i, j} dy[n, m, i, j]
    dx[n, c, ...]   = sum over the mult outputs of c, i, j, a, b of dy W, scattered back

For each output row and tap, the columns j whose input column is inside the image are one
range [j0, j1) (computed once per tap, `_cols`), so the innermost loop runs over j with no
bounds test and vectorizes (stride 1). Each prange iteration owns what it writes: forward a
(n, m) plane of y, data gradient a (n, c) plane of dx, weight gradient the filter and bias
of one m; so there is no racy `+=`. The per-tap column ranges come from `_cols`, a scalar
helper; nothing is allocated inside the loops.
`depthwise_forward_reference` is the few-line loop version the tests check the fast ones
against (with PyTorch's conv2d(groups=C) besides).
"""
from numba import njit, prange

REDUCE = {"reassoc", "contract"}


@njit(cache=True, inline="always")
def _cols(b, W, ow, sw, pw, dw):
    """[j0, j1): the output columns whose input column j sw - pw + b dw lies in [0, W)."""
    off = b * dw - pw
    j0 = 0
    if off < 0:
        j0 = (-off + sw - 1) // sw
    j1 = ow
    # the last j with j sw + off <= W - 1
    last = W - 1 - off
    if last < 0:
        j1 = 0
    else:
        j1 = min(ow, last // sw + 1)
    if j1 < j0:
        j1 = j0
    return j0, j1, off


@njit(cache=True, parallel=True)
def depthwise_forward(x, w, bias, has_bias, sh, sw, ph, pw, dh, dw, y):
    """y (N, M, OH, OW) written whole from x (N, C, H, W) and w (M, 1, kh, kw)."""
    N, C, H, W = x.shape
    M, _, kh, kw = w.shape
    oh, ow = y.shape[2], y.shape[3]
    mult = M // C
    for nm in prange(N * M):
        n = nm // M
        m = nm % M
        c = m // mult
        b0 = bias[m] if has_bias else 0.0
        for i in range(oh):
            yr = y[n, m, i]
            for j in range(ow):
                yr[j] = b0
            for a in range(kh):
                r = i * sh - ph + a * dh
                if r < 0 or r >= H:
                    continue
                xr = x[n, c, r]
                for bb in range(kw):
                    j0, j1, off = _cols(bb, W, ow, sw, pw, dw)
                    wv = w[m, 0, a, bb]
                    for j in range(j0, j1):
                        yr[j] += wv * xr[j * sw + off]


@njit(cache=True, parallel=True)
def depthwise_backward_data(dy, w, sh, sw, ph, pw, dh, dw, dx):
    """dx (N, C, H, W) written whole: each (n, c) plane gathers from its mult outputs."""
    N, C, H, W = dx.shape
    M, _, kh, kw = w.shape
    oh, ow = dy.shape[2], dy.shape[3]
    mult = M // C
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for r in range(H):
            for q in range(W):
                dx[n, c, r, q] = 0.0
        for m in range(c * mult, (c + 1) * mult):
            for i in range(oh):
                gr = dy[n, m, i]
                for a in range(kh):
                    r = i * sh - ph + a * dh
                    if r < 0 or r >= H:
                        continue
                    dr = dx[n, c, r]
                    for bb in range(kw):
                        j0, j1, off = _cols(bb, W, ow, sw, pw, dw)
                        wv = w[m, 0, a, bb]
                        for j in range(j0, j1):
                            dr[j * sw + off] += wv * gr[j]


@njit(cache=True, parallel=True, fastmath=REDUCE)
def depthwise_backward_weight(x, dy, sh, sw, ph, pw, dh, dw, has_bias, dwt, db):
    """dwt (M, 1, kh, kw) += the filter gradient; db (M,) += the bias gradient (when
    has_bias). One prange iteration per output channel."""
    N, C, H, W = x.shape
    M, _, kh, kw = dwt.shape
    oh, ow = dy.shape[2], dy.shape[3]
    mult = M // C
    for m in prange(M):
        c = m // mult
        for a in range(kh):
            for bb in range(kw):
                j0, j1, off = _cols(bb, W, ow, sw, pw, dw)
                s = 0.0
                for n in range(N):
                    for i in range(oh):
                        r = i * sh - ph + a * dh
                        if r < 0 or r >= H:
                            continue
                        xr = x[n, c, r]
                        gr = dy[n, m, i]
                        for j in range(j0, j1):
                            s += gr[j] * xr[j * sw + off]
                dwt[m, 0, a, bb] += s
        if has_bias:
            s = 0.0
            for n in range(N):
                for i in range(oh):
                    for j in range(ow):
                        s += dy[n, m, i, j]
            db[m] += s


@njit(cache=True)
def depthwise_forward_reference(x, w, bias, has_bias, sh, sw, ph, pw, dh, dw, y):
    """The plain loop version of depthwise_forward, for the tests."""
    N, C, H, W = x.shape
    M, _, kh, kw = w.shape
    mult = M // C
    for n in range(N):
        for m in range(M):
            for i in range(y.shape[2]):
                for j in range(y.shape[3]):
                    s = bias[m] if has_bias else 0.0
                    for a in range(kh):
                        for b in range(kw):
                            r = i * sh - ph + a * dh
                            q = j * sw - pw + b * dw
                            if 0 <= r < H and 0 <= q < W:
                                s += w[m, 0, a, b] * x[n, m // mult, r, q]
                    y[n, m, i, j] = s
