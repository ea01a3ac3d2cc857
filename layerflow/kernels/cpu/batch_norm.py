"""BatchNorm kernels on an (N, C, S) view (S = spatial size, 1 after InnerProduct).

Batch statistics per channel over N and S (sums in float64), normalization
y = (x - mean) * inv_std, and the gradient of batch normalization
    dx = inv_std * (dy - mean(dy) - y * mean(dy * y)).
Each kernel that writes an output has an `_inplace` twin taking one array for input and
output: with two arguments that alias, LLVM's runtime overlap check sends the loop down its
scalar path (measured 4-5x slower), so the layer calls the twin when it runs in place.
The reductions may be reordered (fastmath 'reassoc' only, so NaN and inf still propagate),
which lets LLVM vectorize them: 3-4x faster than a strict left-to-right sum.
"""
import math

import numpy as np
from numba import njit

REDUCE = {"reassoc", "contract"}


@njit(cache=True, fastmath=REDUCE)
def channel_mean_var(x, mean, var):
    """Biased (1/m) mean and variance per channel, m = N * S, in one pass over x: float64
    sums of d = x - k, shifted by the channel's first value k so that the difference
    E[d^2] - E[d]^2 does not cancel badly when |mean| >> std."""
    N, C, S = x.shape
    m = N * S
    for c in range(C):
        k = np.float64(x[0, c, 0])
        s = 0.0
        q = 0.0
        for n in range(N):
            for i in range(S):
                d = np.float64(x[n, c, i]) - k
                s += d
                q += d * d
        mu = s / m
        mean[c] = k + mu
        var[c] = max(q / m - mu * mu, 0.0)


@njit(cache=True)
def inv_std_of(var, eps, inv_std):
    for c in range(var.size):
        inv_std[c] = 1.0 / math.sqrt(var[c] + eps)


@njit(cache=True)
def normalize(x, mean, inv_std, y):
    """y = (x - mean) * inv_std (x and y distinct; see normalize_inplace)."""
    N, C, S = x.shape
    for n in range(N):
        for c in range(C):
            mu = mean[c]
            r = inv_std[c]
            for i in range(S):
                y[n, c, i] = (x[n, c, i] - mu) * r


@njit(cache=True)
def normalize_inplace(y, mean, inv_std):
    N, C, S = y.shape
    for n in range(N):
        for c in range(C):
            mu = mean[c]
            r = inv_std[c]
            for i in range(S):
                y[n, c, i] = (y[n, c, i] - mu) * r


@njit(cache=True)
def normalize_save(x, mean, inv_std, y, xnorm):
    """y = xnorm = (x - mean) * inv_std (backward reads xnorm: y may be overwritten later)."""
    N, C, S = x.shape
    for n in range(N):
        for c in range(C):
            mu = mean[c]
            r = inv_std[c]
            for i in range(S):
                v = (x[n, c, i] - mu) * r
                y[n, c, i] = v
                xnorm[n, c, i] = v


@njit(cache=True)
def normalize_save_inplace(y, mean, inv_std, xnorm):
    N, C, S = y.shape
    for n in range(N):
        for c in range(C):
            mu = mean[c]
            r = inv_std[c]
            for i in range(S):
                v = (y[n, c, i] - mu) * r
                y[n, c, i] = v
                xnorm[n, c, i] = v


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


@njit(cache=True, fastmath=REDUCE)
def _dy_moments(xnorm, dy, c):
    """mean(dy) and mean(dy * xnorm) over channel c."""
    N, C, S = dy.shape
    a = 0.0
    b = 0.0
    for n in range(N):
        for i in range(S):
            g = np.float64(dy[n, c, i])
            a += g
            b += g * xnorm[n, c, i]
    return a / (N * S), b / (N * S)


@njit(cache=True)
def batch_norm_backward(xnorm, dy, inv_std, dx):
    """dx = inv_std * (dy - mean(dy) - xnorm * mean(dy * xnorm)); dy and dx distinct."""
    N, C, S = dy.shape
    for c in range(C):
        a, b = _dy_moments(xnorm, dy, c)
        r = inv_std[c]
        for n in range(N):
            for i in range(S):
                dx[n, c, i] = (dy[n, c, i] - a - xnorm[n, c, i] * b) * r


@njit(cache=True)
def batch_norm_backward_inplace(xnorm, d, inv_std):
    N, C, S = d.shape
    for c in range(C):
        a, b = _dy_moments(xnorm, d, c)
        r = inv_std[c]
        for n in range(N):
            for i in range(S):
                d[n, c, i] = (d[n, c, i] - a - xnorm[n, c, i] * b) * r


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
