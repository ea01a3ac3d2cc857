"""BatchNorm kernels on an (N, C, S) device view, the CUDA twins of kernels/cpu/batch_norm.py:
batch statistics per channel over N and S (float64 sums, shifted by the channel's first
value as on the CPU), y = (x - mean) * inv_std, and the gradient
    dx = inv_std * (dy - mean(dy) - y * mean(dy * y)).

The reductions run one block per channel (a fixed order: the same bits every run); the
backward block then writes its channel's dx itself, after a barrier, so that dy and dx may
be one array (the `_inplace` names) and no scratch is needed."""
import math

from numba import cuda, float64

from .launch import THREADS, f64, grid


@cuda.jit(device=True, inline=True)
def _tree2(a, b, t):
    """Sum a[:THREADS] into a[0] and b[:THREADS] into b[0]."""
    cuda.syncthreads()
    half = THREADS // 2
    while half > 0:
        if t < half:
            a[t] += a[t + half]
            b[t] += b[t + half]
        cuda.syncthreads()
        half //= 2


@cuda.jit
def _mean_var(x, mean, var):
    N, C, S = x.shape
    sa = cuda.shared.array(THREADS, float64)
    sb = cuda.shared.array(THREADS, float64)
    c = cuda.blockIdx.x
    t = cuda.threadIdx.x
    m = N * S
    k = float64(x[0, c, 0])
    s = float64(0)
    q = float64(0)
    e = t
    while e < m:
        d = float64(x[e // S, c, e % S]) - k
        s += d
        q += d * d
        e += THREADS
    sa[t] = s
    sb[t] = q
    _tree2(sa, sb, t)
    if t == 0:
        mu = sa[0] / m
        mean[c] = k + mu
        var[c] = max(sb[0] / m - mu * mu, 0.0)


@cuda.jit
def _inv_std(var, eps, inv_std):
    c = cuda.grid(1)
    while c < var.size:
        inv_std[c] = 1.0 / math.sqrt(var[c] + eps)
        c += cuda.gridsize(1)


@cuda.jit
def _normalize(x, mean, inv_std, y, xnorm, save):
    N, C, S = x.shape
    e = cuda.grid(1)
    while e < x.size:
        n = e // (C * S)
        c = (e // S) % C
        i = e % S
        v = (x[n, c, i] - mean[c]) * inv_std[c]
        y[n, c, i] = v
        if save:
            xnorm[n, c, i] = v
        e += cuda.gridsize(1)


@cuda.jit
def _update_running(mean, var, m, fraction, run_mean, run_var, run_factor):
    c = cuda.grid(1)
    if c == 0:
        run_factor[0] = run_factor[0] * fraction + 1.0
    correction = m / (m - 1.0) if m > 1 else 1.0
    while c < mean.size:
        run_mean[c] = run_mean[c] * fraction + mean[c]
        run_var[c] = run_var[c] * fraction + correction * var[c]
        c += cuda.gridsize(1)


@cuda.jit
def _global_stats(run_mean, run_var, run_factor, eps, mean, inv_std):
    f = run_factor[0]
    scale = 0.0 if f == 0 else 1.0 / f
    c = cuda.grid(1)
    while c < mean.size:
        mean[c] = run_mean[c] * scale
        inv_std[c] = 1.0 / math.sqrt(run_var[c] * scale + eps)
        c += cuda.gridsize(1)


@cuda.jit
def _backward(xnorm, dy, inv_std, dx):
    N, C, S = dy.shape
    sa = cuda.shared.array(THREADS, float64)
    sb = cuda.shared.array(THREADS, float64)
    c = cuda.blockIdx.x
    t = cuda.threadIdx.x
    m = N * S
    a = float64(0)
    b = float64(0)
    e = t
    while e < m:
        g = float64(dy[e // S, c, e % S])
        a += g
        b += g * xnorm[e // S, c, e % S]
        e += THREADS
    sa[t] = a
    sb[t] = b
    _tree2(sa, sb, t)          # ends with a barrier: every read of dy is done
    a = sa[0] / m
    b = sb[0] / m
    r = inv_std[c]
    e = t
    while e < m:
        n = e // S
        i = e % S
        dx[n, c, i] = (dy[n, c, i] - a - xnorm[n, c, i] * b) * r
        e += THREADS


@cuda.jit
def _scale_by_channel(dy, inv_std, dx):
    N, C, S = dy.shape
    e = cuda.grid(1)
    while e < dy.size:
        c = (e // S) % C
        dx[e // (C * S), c, e % S] = dy[e // (C * S), c, e % S] * inv_std[c]
        e += cuda.gridsize(1)


def channel_mean_var(x, mean, var):
    """Biased (1/m) mean and variance per channel, m = N * S, in one pass over x."""
    _mean_var[x.shape[1], THREADS](x, mean, var)


def inv_std_of(var, eps, inv_std):
    _inv_std[grid(var.size)](var, *f64(eps), inv_std)


def normalize(x, mean, inv_std, y):
    _normalize[grid(x.size)](x, mean, inv_std, y, y, False)


def normalize_inplace(y, mean, inv_std):
    normalize(y, mean, inv_std, y)


def normalize_save(x, mean, inv_std, y, xnorm):
    """y = xnorm = (x - mean) * inv_std (backward reads xnorm: y may be overwritten later)."""
    _normalize[grid(x.size)](x, mean, inv_std, y, xnorm, True)


def normalize_save_inplace(y, mean, inv_std, xnorm):
    normalize_save(y, mean, inv_std, y, xnorm)


def update_running(mean, var, m, fraction, run_mean, run_var, run_factor):
    """Caffe's running sums: factor = f*factor + 1, mean_sum = f*mean_sum + mean,
    var_sum = f*var_sum + m/(m-1) * var (unbiased)."""
    _update_running[grid(mean.size)](mean, var, *f64(m, fraction), run_mean, run_var,
                                     run_factor)


def global_stats(run_mean, run_var, run_factor, eps, mean, inv_std):
    """mean and 1/std from the stored sums (divided by the factor; 0 when it is 0)."""
    _global_stats[grid(mean.size)](run_mean, run_var, run_factor, *f64(eps), mean, inv_std)


def batch_norm_backward(xnorm, dy, inv_std, dx):
    """dx = inv_std * (dy - mean(dy) - xnorm * mean(dy * xnorm)), one block per channel."""
    _backward[dy.shape[1], THREADS](xnorm, dy, inv_std, dx)


def batch_norm_backward_inplace(xnorm, d, inv_std):
    batch_norm_backward(xnorm, d, inv_std, d)


def scale_by_channel(dy, inv_std, dx):
    """dx = dy * inv_std[c] (the gradient with fixed statistics)."""
    _scale_by_channel[grid(dy.size)](dy, inv_std, dx)


def scale_by_channel_inplace(d, inv_std):
    scale_by_channel(d, inv_std, d)
