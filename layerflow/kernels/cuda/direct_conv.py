"""Direct convolution kernels (no im2col) for ungrouped convolutions with few input
channels, where the patch matrix costs more memory traffic than the arithmetic it feeds
(LeNet's conv1: one channel, 25 taps). The CPU's direct kernels (kernels/cpu/direct_conv.py)
are register tiles for vector lanes and have no one-to-one twin here; these compute the
same three products, checked against im2col + GEMM:

    forward:     y[n, m, i, j] = b[m] + sum_{c, ki, kj} W[m, c, ki, kj] x[n, c, hi, wj]
    weight grad: dW[m, c, ki, kj] += sum_{n, i, j} dy[n, m, i, j] x[n, c, hi, wj]
                 db[m] += sum_{n, i, j} dy[n, m, i, j]
    data grad:   dx[n, c, a, b] = sum over (m, ki, kj) of W[m, c, ki, kj] dy[n, m, i, j]
                 where a = i sh - ph + ki dh (b alike), written whole
with hi = i sh - ph + ki dh, wj = j sw - pw + kj dw (zero outside the image).
Forward and data gradient: one thread per output element; weight gradient: one block per
weight (and per bias) summing over the batch in float64, in a fixed order (no atomics)."""
from numba import cuda, float64

from .launch import THREADS, grid


@cuda.jit
def _forward(x, w, bias, has_bias, sh, sw, ph, pw, dh, dw, y):
    N, C, H, W = x.shape
    M, _, kh, kw = w.shape
    oh, ow = y.shape[2], y.shape[3]
    e = cuda.grid(1)
    while e < y.size:
        n = e // (M * oh * ow)
        m = (e // (oh * ow)) % M
        i = (e // ow) % oh
        j = e % ow
        s = y.dtype.type(0)
        for c in range(C):
            for ki in range(kh):
                hi = i * sh - ph + ki * dh
                if hi >= 0 and hi < H:
                    for kj in range(kw):
                        wj = j * sw - pw + kj * dw
                        if wj >= 0 and wj < W:
                            s += w[m, c, ki, kj] * x[n, c, hi, wj]
        if has_bias:
            s += bias[m]
        y[n, m, i, j] = s
        e += cuda.gridsize(1)


@cuda.jit
def _weight_grad(x, dy, sh, sw, ph, pw, dh, dw, dwt, db, has_bias):
    """Block k < dwt.size: weight k; block dwt.size + m: bias m."""
    N, C, H, W = x.shape
    M, _, kh, kw = dwt.shape
    oh, ow = dy.shape[2], dy.shape[3]
    buf = cuda.shared.array(THREADS, float64)
    k = cuda.blockIdx.x
    t = cuda.threadIdx.x
    P = N * oh * ow
    s = float64(0)
    if k < dwt.size:
        m = k // (C * kh * kw)
        c = (k // (kh * kw)) % C
        ki = (k // kw) % kh
        kj = k % kw
        q = t
        while q < P:
            n = q // (oh * ow)
            i = (q // ow) % oh
            j = q % ow
            hi = i * sh - ph + ki * dh
            wj = j * sw - pw + kj * dw
            if hi >= 0 and hi < H and wj >= 0 and wj < W:
                s += dy[n, m, i, j] * x[n, c, hi, wj]
            q += THREADS
    else:
        m = k - dwt.size
        q = t
        while q < P:
            s += dy[q // (oh * ow), m, (q // ow) % oh, q % ow]
            q += THREADS
    buf[t] = s
    cuda.syncthreads()
    half = THREADS // 2
    while half > 0:
        if t < half:
            buf[t] += buf[t + half]
        cuda.syncthreads()
        half //= 2
    if t == 0:
        if k < dwt.size:
            dwt[k // (C * kh * kw), (k // (kh * kw)) % C, (k // kw) % kh, k % kw] += buf[0]
        elif has_bias:
            db[k - dwt.size] += buf[0]


@cuda.jit
def _data_grad(dy, w, sh, sw, ph, pw, dh, dw, dx):
    N, C, H, W = dx.shape
    M, _, kh, kw = w.shape
    oh, ow = dy.shape[2], dy.shape[3]
    e = cuda.grid(1)
    while e < dx.size:
        n = e // (C * H * W)
        c = (e // (H * W)) % C
        a = (e // W) % H
        b = e % W
        s = dx.dtype.type(0)
        for ki in range(kh):
            t = a + ph - ki * dh
            if t >= 0 and t % sh == 0 and t // sh < oh:
                i = t // sh
                for kj in range(kw):
                    u = b + pw - kj * dw
                    if u >= 0 and u % sw == 0 and u // sw < ow:
                        for m in range(M):
                            s += w[m, c, ki, kj] * dy[n, m, i, u // sw]
        dx[n, c, a, b] = s
        e += cuda.gridsize(1)


def conv_forward(x, w, bias, has_bias, sh, sw, ph, pw, dh, dw, y):
    """y (N, M, OH, OW) from x (N, C, H, W) and w (M, C, kh, kw); bias (M,) when has_bias."""
    _forward[grid(y.size)](x, w, bias, bool(has_bias), sh, sw, ph, pw, dh, dw, y)


def conv_weight_grad(x, dy, sh, sw, ph, pw, dh, dw, dwt, db, has_bias):
    """dwt += the weight gradient, db += the bias gradient when has_bias (param diffs add)."""
    blocks = dwt.size + (dwt.shape[0] if has_bias else 0)
    _weight_grad[blocks, THREADS](x, dy, sh, sw, ph, pw, dh, dw, dwt, db, bool(has_bias))


def conv_data_grad(dy, w, sh, sw, ph, pw, dh, dw, dx):
    """dx (written whole) from dy and w."""
    _data_grad[grid(dx.size)](dy, w, sh, sw, ph, pw, dh, dw, dx)
