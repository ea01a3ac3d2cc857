"""BatchNorm kernels on an (N, C, S) view (S = spatial size, 1 after InnerProduct).

Batch statistics per channel over N and S, normalization y = (x - mean) * inv_std, and the
gradient of batch normalization
    dx = inv_std * (dy - mean(dy) - y * mean(dy * y)).
Sums run over each row's stretches of CHUNK values in the data's dtype (vector lanes:
fastmath 'reassoc' only, so NaN and inf still propagate; a strict left-to-right sum was
3-4x slower) and add the stretches up in float64.
Threads (`parts` > 1, the layer's choice for large blobs): every pass cuts the images into
one run per part of threads.run_parallel (its row loops release the GIL); the sums go into
each part's own float64 (2, C) and are added up after. With parts 1 the caller's thread
does it all; the CUDA twins and the fake device call these with the signatures' defaults.
Each kernel that writes an output has an `_inplace` twin taking one array for input and
output: with two arguments that alias, LLVM's runtime overlap check sends the loop down its
scalar path (measured 4-5x slower), so the layer calls the twin when it runs in place.
"""
import math

import numpy as np
from numba import njit

from .threads import run_parallel

REDUCE = {"reassoc", "contract"}
CHUNK = 1024            # values summed in the data's dtype before going into float64


@njit(cache=True, fastmath=REDUCE)
def _shifted_sums(row, k):
    """(sum d, sum d^2) of d = row - k, in float64 over stretches of CHUNK. Rows are
    slices indexed from 0: an index that might be negative gets Numba's wraparound test,
    which stops LLVM from vectorizing (measured 10x slower)."""
    s = 0.0
    q = 0.0
    for c0 in range(0, row.size, CHUNK):
        v = row[c0:c0 + CHUNK]
        ps = v[0] - k
        pq = ps * ps
        for i in range(1, v.size):
            d = v[i] - k
            ps += d
            pq += d * d
        s += ps
        q += pq
    return s, q


@njit(cache=True, fastmath=REDUCE)
def _dot_sums(g, x):
    """(sum g, sum g * x) over two rows, in float64 over stretches of CHUNK."""
    a = 0.0
    b = 0.0
    for c0 in range(0, g.size, CHUNK):
        gv = g[c0:c0 + CHUNK]
        xv = x[c0:c0 + CHUNK]
        pa = gv[0]
        pb = gv[0] * xv[0]
        for i in range(1, gv.size):
            pa += gv[i]
            pb += gv[i] * xv[i]
        a += pa
        b += pb
    return a, b


@njit(cache=True, nogil=True)
def _stat_rows(xf, C, S, n0, n1, sums):
    """sums[0, c] += sum d, sums[1, c] += sum d^2 over images [n0, n1), d = x - k_c with
    k_c the channel's first value (so that E[d^2] - E[d]^2 does not cancel badly when
    |mean| >> std). Row after row in memory order: going channel by channel, 4 KB rows a
    page apart, was 2.3x slower."""
    for n in range(n0, n1):
        for c in range(C):
            o = (n * C + c) * S
            rs, rq = _shifted_sums(xf[o:o + S], xf[c * S])
            sums[0, c] += rs
            sums[1, c] += rq


def channel_mean_var_parts(x, mean, var, sums):
    """Biased (1/m) mean and variance per channel, m = N * S, in one pass over x, the
    images cut into sums.shape[0] runs (threads.run_parallel, each with its own sums
    (2, C))."""
    N, C, S = x.shape
    xf = x.reshape(-1)
    parts = sums.shape[0]
    _zero(sums)
    run_parallel(lambda t: _stat_rows(xf, C, S, t * N // parts, (t + 1) * N // parts,
                                      sums[t]), parts)
    _mean_var_of(xf, S, N, sums, mean, var)


@njit(cache=True)
def _mean_var_of(xf, S, N, sums, mean, var):
    _add_parts(sums, 1.0 / (N * S))
    for c in range(mean.size):
        mu = sums[0, 0, c]
        mean[c] = xf[c * S] + mu
        var[c] = max(sums[0, 1, c] - mu * mu, 0.0)


@njit(cache=True)
def _zero(sums):
    for k in range(sums.size):
        sums.flat[k] = 0.0


@njit(cache=True)
def _add_parts(sums, scale):
    """sums[0] = scale * the sum over the parts of sums[t]."""
    for j in range(sums.shape[1]):
        for c in range(sums.shape[2]):
            a = 0.0
            for t in range(sums.shape[0]):
                a += sums[t, j, c]
            sums[0, j, c] = a * scale


def channel_mean_var(x, mean, var):
    """channel_mean_var_parts on one thread (the CUDA twin's signature)."""
    channel_mean_var_parts(x, mean, var, np.zeros((1, 2, x.shape[1])))


@njit(cache=True)
def inv_std_of(var, eps, inv_std):
    for c in range(var.size):
        inv_std[c] = 1.0 / math.sqrt(var[c] + eps)


@njit(cache=True, nogil=True)
def _normalize_rows(xf, yf, sf, save, mean, inv_std, C, S, n0, n1):
    """y (and the saved copy, when `save`) = (x - mean) * inv_std over images [n0, n1)."""
    for n in range(n0, n1):
        for c in range(C):
            mu = mean[c]
            r = inv_std[c]
            o = (n * C + c) * S
            xr, yr = xf[o:o + S], yf[o:o + S]
            if save:
                sr = sf[o:o + S]
                for i in range(S):
                    v = (xr[i] - mu) * r
                    yr[i] = v
                    sr[i] = v
            else:
                for i in range(S):
                    yr[i] = (xr[i] - mu) * r


@njit(cache=True, nogil=True)
def _normalize_rows_inplace(yf, sf, save, mean, inv_std, C, S, n0, n1):
    for n in range(n0, n1):
        for c in range(C):
            mu = mean[c]
            r = inv_std[c]
            o = (n * C + c) * S
            yr = yf[o:o + S]
            if save:
                sr = sf[o:o + S]
                for i in range(S):
                    v = (yr[i] - mu) * r
                    yr[i] = v
                    sr[i] = v
            else:
                for i in range(S):
                    yr[i] = (yr[i] - mu) * r


def _normalize(x, mean, inv_std, y, xnorm, save, parts):
    N, C, S = x.shape
    xf, yf, sf = x.reshape(-1), y.reshape(-1), xnorm.reshape(-1)
    run_parallel(lambda t: _normalize_rows(xf, yf, sf, save, mean, inv_std, C, S,
                                           t * N // parts, (t + 1) * N // parts), parts)


def _normalize_inplace(y, mean, inv_std, xnorm, save, parts):
    N, C, S = y.shape
    yf, sf = y.reshape(-1), xnorm.reshape(-1)
    run_parallel(lambda t: _normalize_rows_inplace(yf, sf, save, mean, inv_std, C, S,
                                                   t * N // parts, (t + 1) * N // parts),
                 parts)


def normalize(x, mean, inv_std, y, parts=1):
    """y = (x - mean) * inv_std (x and y distinct; see normalize_inplace)."""
    _normalize(x, mean, inv_std, y, y, False, parts)


def normalize_inplace(y, mean, inv_std, parts=1):
    _normalize_inplace(y, mean, inv_std, y, False, parts)


def normalize_save(x, mean, inv_std, y, xnorm, parts=1):
    """y = xnorm = (x - mean) * inv_std (backward reads xnorm: y may be overwritten later)."""
    _normalize(x, mean, inv_std, y, xnorm, True, parts)


def normalize_save_inplace(y, mean, inv_std, xnorm, parts=1):
    _normalize_inplace(y, mean, inv_std, xnorm, True, parts)


@njit(cache=True)
def update_running(mean, var, m, fraction, run_mean, run_var, run_factor):
    """Caffe's running sums: factor = f*factor + 1, mean_sum = f*mean_sum + mean,
    var_sum = f*var_sum + m/(m-1) * var (unbiased)."""
    run_factor[0] = run_factor[0] * fraction + 1.0
    correction = m / (m - 1.0) if m > 1 else 1.0
    for c in range(mean.size):
        run_mean[c] = run_mean[c] * fraction + mean[c]
        run_var[c] = run_var[c] * fraction + correction * var[c]


@njit(cache=True)
def global_stats(run_mean, run_var, run_factor, eps, mean, inv_std):
    """mean and 1/std from the stored sums (divided by the factor; 0 when it is 0)."""
    f = run_factor[0]
    scale = 0.0 if f == 0 else 1.0 / f
    for c in range(mean.size):
        mean[c] = run_mean[c] * scale
        inv_std[c] = 1.0 / math.sqrt(run_var[c] * scale + eps)


@njit(cache=True, nogil=True)
def _dy_rows(sf, gf, C, S, n0, n1, sums):
    """sums[0, c] += sum dy, sums[1, c] += sum dy * xnorm over images [n0, n1)."""
    for n in range(n0, n1):
        for c in range(C):
            o = (n * C + c) * S
            ra, rb = _dot_sums(gf[o:o + S], sf[o:o + S])
            sums[0, c] += ra
            sums[1, c] += rb


@njit(cache=True, nogil=True)
def _backward_rows(sf, gf, df, inv_std, coef, C, S, n0, n1):
    """dx = dy r - a - xnorm b over images [n0, n1), r = inv_std and (a, b) = r times the
    means coef[0], coef[1], each in the data's dtype."""
    for n in range(n0, n1):
        for c in range(C):
            o = (n * C + c) * S
            r = inv_std[c]
            _backward_row(sf[o:o + S], gf[o:o + S], df[o:o + S], gf.dtype.type(coef[0, c] * r),
                          gf.dtype.type(coef[1, c] * r), gf.dtype.type(r))


@njit(cache=True, nogil=True)
def _backward_rows_inplace(sf, d, inv_std, coef, C, S, n0, n1):
    for n in range(n0, n1):
        for c in range(C):
            o = (n * C + c) * S
            r = inv_std[c]
            _backward_row_inplace(sf[o:o + S], d[o:o + S], d.dtype.type(coef[0, c] * r),
                                  d.dtype.type(coef[1, c] * r), d.dtype.type(r))


@njit(cache=True)
def _backward_row(s, g, d, ga, gb, gr):
    for i in range(d.size):
        d[i] = g[i] * gr - ga - s[i] * gb


@njit(cache=True)
def _backward_row_inplace(s, d, ga, gb, gr):
    for i in range(d.size):
        d[i] = d[i] * gr - ga - s[i] * gb


def _dy_means(sf, gf, N, C, S, sums):
    """mean(dy) and mean(dy * xnorm) per channel into sums[0] (float64), one run of images
    per part."""
    parts = sums.shape[0]
    _zero(sums)
    run_parallel(lambda t: _dy_rows(sf, gf, C, S, t * N // parts, (t + 1) * N // parts,
                                    sums[t]), parts)
    _add_parts(sums, 1.0 / (N * S))


def batch_norm_backward_parts(xnorm, dy, inv_std, dx, sums):
    """dx = inv_std * (dy - mean(dy) - xnorm * mean(dy * xnorm)); dy and dx distinct. Two
    passes, each cutting the images into one run per part (sums: (parts, 2, C) float64):
    the means, then dx."""
    N, C, S = dy.shape
    sf, gf, df = xnorm.reshape(-1), dy.reshape(-1), dx.reshape(-1)
    _dy_means(sf, gf, N, C, S, sums)
    parts, coef = sums.shape[0], sums[0]
    run_parallel(lambda t: _backward_rows(sf, gf, df, inv_std, coef, C, S, t * N // parts,
                                          (t + 1) * N // parts), parts)


def batch_norm_backward_inplace_parts(xnorm, d, inv_std, sums):
    N, C, S = d.shape
    sf, df = xnorm.reshape(-1), d.reshape(-1)
    _dy_means(sf, df, N, C, S, sums)
    parts, coef = sums.shape[0], sums[0]
    run_parallel(lambda t: _backward_rows_inplace(sf, df, inv_std, coef, C, S,
                                                  t * N // parts, (t + 1) * N // parts),
                 parts)


def batch_norm_backward(xnorm, dy, inv_std, dx):
    """batch_norm_backward_parts on one thread (the CUDA twin's signature)."""
    batch_norm_backward_parts(xnorm, dy, inv_std, dx, np.zeros((1, 2, dy.shape[1])))


def batch_norm_backward_inplace(xnorm, d, inv_std):
    batch_norm_backward_inplace_parts(xnorm, d, inv_std, np.zeros((1, 2, d.shape[1])))


@njit(cache=True)
def scale_by_channel(dy, inv_std, dx):
    """dx = dy * inv_std[c] (the gradient with fixed statistics)."""
    N, C, S = dy.shape
    for n in range(N):
        for c in range(C):
            r = inv_std[c]
            for i in range(S):
                dx[n, c, i] = dy[n, c, i] * r


@njit(cache=True)
def scale_by_channel_inplace(d, inv_std):
    N, C, S = d.shape
    for n in range(N):
        for c in range(C):
            r = inv_std[c]
            for i in range(S):
                d[n, c, i] *= r


@njit(cache=True)
def fold_coefficients(mean, inv_std, gamma, beta, a, b):
    """a, b (per channel, in the data's dtype) of y = a x + b: batch norm by `mean` and
    `inv_std` (global_stats) followed by y * gamma + beta (gamma, beta empty: no Scale;
    beta empty: no bias)."""
    for c in range(a.size):
        g = inv_std[c] * (gamma[c] if gamma.size else 1.0)
        a[c] = g
        b[c] = (beta[c] if beta.size else 0.0) - mean[c] * g


@njit(cache=True, nogil=True)
def affine_relu_rows(xf, yf, a, b, relu, slope, C, S, r0, r1):
    """y = a[c] x + b[c] over rows [r0, r1) of the (N C, S) view, then the ReLU
    max(v, 0) + slope min(v, 0) when `relu`; xf and yf distinct (see the `_inplace` twin)."""
    for r in range(r0, r1):
        c = r % C
        ac, bc = a[c], b[c]
        xr, yr = xf[r * S:(r + 1) * S], yf[r * S:(r + 1) * S]
        if relu:
            for i in range(S):
                v = xr[i] * ac + bc
                yr[i] = v if v > 0 else v * slope
        else:
            for i in range(S):
                yr[i] = xr[i] * ac + bc


@njit(cache=True, nogil=True)
def affine_relu_rows_inplace(yf, a, b, relu, slope, C, S, r0, r1):
    """affine_relu_rows in place: row r is row r % C of its image's (C, S) block."""
    for r in range(r0, r1):
        c = r % C
        affine_relu_block(yf[(r - c) * S:(r - c + C) * S], S, c, c + 1, 0, S, a, b, relu,
                          slope)


@njit(cache=True, nogil=True)
def affine_relu_block(yf, ld, r0, r1, c0, c1, a, b, relu, slope):
    """In place on rows [r0, r1), columns [c0, c1) of a (rows, ld) matrix kept flat in yf:
    y = a[r] y + b[r], then the ReLU when `relu` (a convolution's folded BatchNorm on the
    slab of its output one thread wrote, while it is in cache)."""
    for r in range(r0, r1):
        ar, br = a[r], b[r]
        yr = yf[r * ld + c0:r * ld + c1]
        if relu:
            for i in range(c1 - c0):
                v = yr[i] * ar + br
                yr[i] = v if v > 0 else v * slope
        else:
            for i in range(c1 - c0):
                yr[i] = yr[i] * ar + br
