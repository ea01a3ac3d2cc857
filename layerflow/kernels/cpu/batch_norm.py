"""BatchNorm kernels on an (N, C, S) view (S = spatial size, 1 after InnerProduct).

Batch statistics per channel over N and S (sums in float64), normalization
y = (x - mean) * inv_std, and the gradient of batch normalization
    dx = inv_std * (dy - mean(dy) - y * mean(dy * y)).
x and y (dy and dx) may be the same array: each channel is reduced before it is written.
"""
import math

from numba import njit


@njit(cache=True)
def channel_mean_var(x, mean, var):
    """Biased (1/m) mean and variance per channel, m = N * S."""
    N, C, S = x.shape
    m = N * S
    for c in range(C):
        s = 0.0
        for n in range(N):
            for i in range(S):
                s += x[n, c, i]
        mu = s / m
        q = 0.0
        for n in range(N):
            for i in range(S):
                d = x[n, c, i] - mu
                q += d * d
        mean[c] = mu
        var[c] = q / m


@njit(cache=True)
def inv_std_of(var, eps, inv_std):
    for c in range(var.size):
        inv_std[c] = 1.0 / math.sqrt(var[c] + eps)


@njit(cache=True)
def normalize(x, mean, inv_std, y, xnorm, save):
    """y = (x - mean) * inv_std; also into `xnorm` when `save` (backward reads it there)."""
    N, C, S = x.shape
    for n in range(N):
        for c in range(C):
            mu = mean[c]
            r = inv_std[c]
            for i in range(S):
                v = (x[n, c, i] - mu) * r
                y[n, c, i] = v
                if save:
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


@njit(cache=True)
def batch_norm_backward(xnorm, dy, inv_std, dx):
    N, C, S = dy.shape
    m = N * S
    for c in range(C):
        a = 0.0
        b = 0.0
        for n in range(N):
            for i in range(S):
                g = dy[n, c, i]
                a += g
                b += g * xnorm[n, c, i]
        a /= m
        b /= m
        r = inv_std[c]
        for n in range(N):
            for i in range(S):
                dx[n, c, i] = (dy[n, c, i] - a - xnorm[n, c, i] * b) * r


@njit(cache=True)
def scale_by_channel(dy, inv_std, dx):
    """dx = dy * inv_std[c] (the gradient with fixed statistics)."""
    N, C, S = dy.shape
    for n in range(N):
        for c in range(C):
            r = inv_std[c]
            for i in range(S):
                dx[n, c, i] = dy[n, c, i] * r
