"""Batched im2col / col2im and the bias passes of a convolution, the CUDA twins of
kernels/cpu/im2col.py, with the same `col` layout (C*kh*kw, N*OH*OW): row r = (c, ki, kj),
column n*OH*OW + oh*OW + ow. The products around them are the strided GEMM's
(kernels/cuda/gemm.py), which reads and writes NCHW directly, so the CPU's layout moves
(rows_to_nchw and friends) have no twin here.

im2col: one thread per col element. col2im: one thread per image pixel, gathering the
col entries that read it in the CPU loop's order (ki, kj), so that no atomics are needed
and the float sums match the CPU's bit for bit (Caffe's col2im_gpu does the same)."""
from numba import cuda, float64

from .launch import grid


@cuda.jit
def _im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, col):
    N, C, H, W = x.shape
    P = oh * ow
    kk = kh * kw
    cols = N * P
    e = cuda.grid(1)
    while e < C * kk * cols:
        r = e // cols
        q = e % cols
        c = r // kk
        ki = (r // kw) % kh
        kj = r % kw
        n = q // P
        i = (q % P) // ow
        j = q % ow
        hi = i * sh - ph + ki * dh
        wi = j * sw - pw + kj * dw
        if hi >= 0 and hi < H and wi >= 0 and wi < W:
            col[r, q] = x[n, c, hi, wi]
        else:
            col[r, q] = 0
        e += cuda.gridsize(1)


@cuda.jit
def _col2im(col, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, x):
    N, C, H, W = x.shape
    P = oh * ow
    e = cuda.grid(1)
    while e < x.size:
        n = e // (C * H * W)
        c = (e // (H * W)) % C
        a = (e // W) % H
        b = e % W
        s = x.dtype.type(0)
        for ki in range(kh):
            t = a + ph - ki * dh
            if t >= 0 and t % sh == 0 and t // sh < oh:
                i = t // sh
                for kj in range(kw):
                    u = b + pw - kj * dw
                    if u >= 0 and u % sw == 0 and u // sw < ow:
                        s += col[(c * kh + ki) * kw + kj, n * P + i * ow + u // sw]
        x[n, c, a, b] = s
        e += cuda.gridsize(1)


@cuda.jit
def _add_channel_bias(out, bias):
    N, M, P = out.shape
    e = cuda.grid(1)
    while e < out.size:
        out[e // (M * P), (e // P) % M, e % P] += bias[(e // P) % M]
        e += cuda.gridsize(1)


@cuda.jit
def _channel_sum(dy, db):
    N, M, P = dy.shape
    m = cuda.grid(1)
    while m < M:
        s = float64(0)      # float64 sums as the CPU loop (0.0 stays float32 in the simulator)
        for n in range(N):
            for p in range(P):
                s += dy[n, m, p]
        db[m] += s
        m += cuda.gridsize(1)


def im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, col):
    """col[(c*kh + ki)*kw + kj, n*oh*ow + i*ow + j] = x[n, c, i*sh - ph + ki*dh, j*sw - pw + kj*dw]
    (0 outside the image). x: (N, C, H, W); col: (C*kh*kw, N*oh*ow) device arrays."""
    _im2col[grid(col.size)](x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, col)


def col2im(col, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, x):
    """The adjoint of im2col: x[n, c] = sum of the col entries that read each pixel
    (writes all of x)."""
    _col2im[grid(x.size)](col, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, x)


def add_channel_bias(out, bias):
    """out[n, m, p] += bias[m]. out: (N, M, P)."""
    _add_channel_bias[grid(out.size)](out, bias)


def channel_sum(dy, db):
    """db[m] += sum_{n,p} dy[n, m, p] (param diffs accumulate), float64 sums as on the CPU;
    one thread per channel."""
    _channel_sum[grid(dy.shape[1])](dy, db)
