"""Pooling kernels with Caffe's window rules, over (N, C, H, W) arrays.

Window of output (i, j): rows hs = i*sh - ph .. he = min(hs + kh, H), hs = max(hs, 0)
(columns alike). MAX keeps the flat index h*W + w of the maximum (first one on ties) so
that backward routes dy there; AVE divides by the window clipped to the *padded* input,
min(hs + kh, H + ph) - hs before clipping to the image, as Caffe does. Each (n, c) plane
is owned by one prange iteration.
"""
from numba import njit, prange


@njit(cache=True, parallel=True)
def max_pool_forward(x, kh, kw, sh, sw, ph, pw, y, mask):
    """y[n, c, i, j] = max over the window; mask (int32, y's shape) gets its flat index."""
    N, C, H, W = x.shape
    oh, ow = y.shape[2], y.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for i in range(oh):
            hs = i * sh - ph
            he = min(hs + kh, H)
            hs = max(hs, 0)
            for j in range(ow):
                ws = j * sw - pw
                we = min(ws + kw, W)
                ws = max(ws, 0)
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
            d[m[k]] += g[k]


@njit(cache=True, parallel=True)
def mask_to_float(mask, out):
    """Caffe's optional second top of MAX pooling: the argmax index as a float."""
    flat = mask.reshape(-1)
    o = out.reshape(-1)
    for i in prange(flat.size):
        o[i] = flat[i]


@njit(cache=True, parallel=True)
def ave_pool_forward(x, kh, kw, sh, sw, ph, pw, y):
    """y = sum over the window clipped to the image / size of the window clipped to the
    padded input."""
    N, C, H, W = x.shape
    oh, ow = y.shape[2], y.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
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
                s = x[n, c, 0, 0] * 0
                for a in range(hs, he):
                    for b in range(ws, we):
                        s += x[n, c, a, b]
                y[n, c, i, j] = s / size


@njit(cache=True, parallel=True)
def ave_pool_backward(dy, kh, kw, sh, sw, ph, pw, dx):
    """dx (written whole): each window spreads dy / size over its in-image pixels."""
    N, C, H, W = dx.shape
    oh, ow = dy.shape[2], dy.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for a in range(H):
            for b in range(W):
                dx[n, c, a, b] = 0
        for i in range(oh):
            hs = i * sh - ph
            he = min(hs + kh, H + ph)
            hsize = he - hs
            hs = max(hs, 0)
            he = min(he, H)
            for j in range(ow):
                ws = j * sw - pw
                we = min(ws + kw, W + pw)
                g = dy[n, c, i, j] / (hsize * (we - ws))
                ws = max(ws, 0)
                we = min(we, W)
                for a in range(hs, he):
                    for b in range(ws, we):
                        dx[n, c, a, b] += g
