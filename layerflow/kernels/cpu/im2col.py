"""Batched im2col / col2im and the layout moves around one large matrix product.

A convolution over a whole batch becomes one GEMM per group when the batch's patches stand
in one matrix `col` of shape (C*kh*kw, N*OH*OW): row r = (c, ki, kj) (c slowest), column
n*OH*OW + oh*OW + ow. Then  Y(M, N*P) = W(M, C*kh*kw) @ col,  and `rows_to_nchw` moves Y
into the (N, M, OH, OW) top with the bias added on the way (one pass, fused).

For cache locality the Convolution layer runs these over chunks of a few images (so that
a chunk's `col` stays in L2) from several Python threads at once, one chunk per thread at
a time: the kernels are serial and release the GIL (`nogil=True`); parallelism is the
chunk loop's. All kernels write every element they own (no caller-side zeroing).
`pad_plane` copies one plane into the interior of a padded one, for the direct
convolution and the pooling kernels.
"""
from numba import njit


@njit(cache=True, inline="always")
def pad_plane(x, ph, pw, wp, out, o):
    """out[o + (i + ph) * wp + j + pw] = x[i, j]: x (H, W) into a flat padded plane of width
    wp starting at o, whose borders the caller fills once (zeros, or -inf for MAX)."""
    H, W = x.shape
    for i in range(H):
        r = o + (i + ph) * wp + pw
        for j in range(W):
            out[r + j] = x[i, j]


@njit(cache=True, inline="always")
def _valid_range(o_count, stride, offset, size):
    """[lo, hi) of output positions o with 0 <= o*stride + offset < size."""
    lo = 0
    if offset < 0:
        lo = (-offset + stride - 1) // stride
    hi = 0
    if size - offset > 0:
        hi = (size - offset + stride - 1) // stride
    if hi > o_count:
        hi = o_count
    if lo > hi:
        lo = hi
    return lo, hi


@njit(cache=True, nogil=True)
def im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, col):
    """col[(c*kh + ki)*kw + kj, n*oh*ow + i*ow + j] = x[n, c, i*sh - ph + ki*dh, j*sw - pw + kj*dw]
    (0 outside the image). x: (N, C, H, W); col: (C*kh*kw, N*oh*ow)."""
    N, C, H, W = x.shape
    P = oh * ow
    kk = kh * kw
    for r in range(C * kk):
        c = r // kk
        ki = (r // kw) % kh
        kj = r % kw
        woff = kj * dw - pw
        jlo, jhi = _valid_range(ow, sw, woff, W)
        for n in range(N):
            for i in range(oh):
                hi = i * sh - ph + ki * dh
                o = n * P + i * ow
                if hi < 0 or hi >= H:
                    for j in range(ow):
                        col[r, o + j] = 0
                    continue
                for j in range(jlo):
                    col[r, o + j] = 0
                if sw == 1:
                    for j in range(jlo, jhi):
                        col[r, o + j] = x[n, c, hi, j + woff]
                else:
                    for j in range(jlo, jhi):
                        col[r, o + j] = x[n, c, hi, j * sw + woff]
                for j in range(jhi, ow):
                    col[r, o + j] = 0


@njit(cache=True, nogil=True)
def col2im(col, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, x):
    """The adjoint of im2col: x[n, c] = sum of the col entries that read each pixel.
    Writes all of x (N, C, H, W); each (n, c) plane is owned by one iteration."""
    N, C, H, W = x.shape
    P = oh * ow
    for nc in range(N * C):
        n = nc // C
        c = nc % C
        for a in range(H):
            for b in range(W):
                x[n, c, a, b] = 0
        for ki in range(kh):
            for kj in range(kw):
                r = (c * kh + ki) * kw + kj
                woff = kj * dw - pw
                jlo, jhi = _valid_range(ow, sw, woff, W)
                for i in range(oh):
                    hi = i * sh - ph + ki * dh
                    if hi < 0 or hi >= H:
                        continue
                    o = n * P + i * ow
                    if sw == 1:
                        for j in range(jlo, jhi):
                            x[n, c, hi, j + woff] += col[r, o + j]
                    else:
                        for j in range(jlo, jhi):
                            x[n, c, hi, j * sw + woff] += col[r, o + j]


@njit(cache=True, nogil=True)
def rows_to_nchw(y, bias, has_bias, out):
    """out[n, m, p] = y[m, n*P + p] (+ bias[m]). y: (M, N*P); out: (N, M, P)."""
    N, M, P = out.shape
    for n in range(N):
        for m in range(M):
            b = bias[m] if has_bias else 0
            for p in range(P):
                out[n, m, p] = y[m, n * P + p] + b


@njit(cache=True, nogil=True)
def nchw_to_rows(x, out):
    """out[m, n*P + p] = x[n, m, p]. x: (N, M, P); out: (M, N*P)."""
    N, M, P = x.shape
    for n in range(N):
        for m in range(M):
            for p in range(P):
                out[m, n * P + p] = x[n, m, p]


@njit(cache=True, nogil=True)
def nchw_to_rows_bias_grad(dy, out, db, has_bias):
    """out[m, n*P + p] = dy[n, m, p], and db[m] += sum_{n,p} dy[n, m, p] when has_bias.
    Each m (a row of out and one db entry) is owned by one iteration."""
    N, M, P = dy.shape
    for m in range(M):
        s = 0.0
        for n in range(N):
            for p in range(P):
                v = dy[n, m, p]
                out[m, n * P + p] = v
                s += v
        if has_bias:
            db[m] += s


@njit(cache=True, nogil=True)
def add_channel_bias(out, bias):
    """out[n, m, p] += bias[m]. out: (N, M, P)."""
    N, M, P = out.shape
    for n in range(N):
        for m in range(M):
            b = bias[m]
            for p in range(P):
                out[n, m, p] += b


@njit(cache=True, nogil=True)
def channel_sum(dy, db):
    """db[m] += sum_{n,p} dy[n, m, p] (param diffs accumulate). dy: (N, M, P)."""
    N, M, P = dy.shape
    for m in range(M):
        s = 0.0
        for n in range(N):
            for p in range(P):
                s += dy[n, m, p]
        db[m] += s
