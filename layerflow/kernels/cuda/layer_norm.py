"""LayerNorm kernels over the rows of an (R, D) device array, the CUDA twins of
kernels/cpu/layer_norm.py: xhat = (x - mean) / sqrt(var + eps), y = xhat w + b, each row's
mean and 1 / sqrt(var + eps) kept; g = dy w, dx = rstd (g - mean(g) - xhat mean(g xhat)),
dw += sum dy xhat, db += sum dy.

The row statistics and dx run one thread per row (float64 sums, the row's order); dw and db
one thread per column adding the rows in order (no atomics, the same bits every run)."""
import math

from numba import cuda, float64

from .launch import grid


@cuda.jit
def _forward(x, w, b, affine, eps, y, mean, rstd):
    rows, dim = x.shape
    r = cuda.grid(1)
    while r < rows:
        s = float64(0)
        for j in range(dim):
            s += x[r, j]
        m = s / dim
        v = float64(0)
        for j in range(dim):
            d = x[r, j] - m
            v += d * d
        k = 1 / math.sqrt(v / dim + eps)
        mean[r] = m
        rstd[r] = k
        m = mean[r]                 # y from the stored (rounded) statistics, as backward sees
        k = rstd[r]
        for j in range(dim):
            h = (x[r, j] - m) * k
            y[r, j] = h * w[j] + b[j] if affine else h
        r += cuda.gridsize(1)


@cuda.jit
def _param_grads(x, dy, mean, rstd, dw, db):
    rows, dim = x.shape
    j = cuda.grid(1)
    while j < dim:
        aw = float64(0)
        ab = float64(0)
        for r in range(rows):
            g = dy[r, j]
            aw += g * ((x[r, j] - mean[r]) * rstd[r])
            ab += g
        dw[j] += aw
        db[j] += ab
        j += cuda.gridsize(1)


@cuda.jit
def _data_grad(x, dy, w, affine, mean, rstd, dx):
    rows, dim = x.shape
    r = cuda.grid(1)
    while r < rows:
        m = mean[r]
        k = rstd[r]
        mg = float64(0)
        mgh = float64(0)
        for j in range(dim):
            g = dy[r, j] * w[j] if affine else dy[r, j]
            mg += g
            mgh += g * ((x[r, j] - m) * k)
        mg /= dim
        mgh /= dim
        for j in range(dim):
            g = dy[r, j] * w[j] if affine else dy[r, j]
            dx[r, j] = k * (g - mg - (x[r, j] - m) * k * mgh)
        r += cuda.gridsize(1)


def layer_norm_forward(x, w, b, affine, eps, y, mean, rstd):
    _forward[grid(x.shape[0])](x, w, b, bool(affine), float64(eps), y, mean, rstd)


def layer_norm_backward(x, dy, w, affine, mean, rstd, want_x, dx, dw, db):
    """dw, db added into when `affine`; dx written when `want_x`."""
    if affine:
        _param_grads[grid(x.shape[1])](x, dy, mean, rstd, dw, db)
    if want_x:
        _data_grad[grid(x.shape[0])](x, dy, w, bool(affine), mean, rstd, dx)
