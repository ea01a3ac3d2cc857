"""LayerNorm kernels over the rows of an (R, D) array (PyTorch's F.layer_norm):
xhat = (x - mean) / sqrt(var + eps), y = xhat w + b. The forward keeps each row's mean and
1 / sqrt(var + eps)."""
import math

from numba import njit


@njit(cache=True)
def layer_norm_forward(x, w, b, affine, eps, y, mean, rstd):
    rows, dim = x.shape
    for r in range(rows):
        m = 0.0
        for j in range(dim):
            m += x[r, j]
        m /= dim
        v = 0.0
        for j in range(dim):
            d = x[r, j] - m
            v += d * d
        k = 1.0 / math.sqrt(v / dim + eps)
        mean[r] = m
        rstd[r] = k
        for j in range(dim):
            h = (x[r, j] - m) * k
            y[r, j] = h * w[j] + b[j] if affine else h


@njit(cache=True)
def layer_norm_backward(x, dy, w, affine, mean, rstd, want_x, dx, dw, db):
    """g = dy w; dx = rstd (g - mean(g) - xhat mean(g xhat)); dw += sum dy xhat; db += sum dy."""
    rows, dim = x.shape
    for r in range(rows):
        m = mean[r]
        k = rstd[r]
        mg = 0.0
        mgh = 0.0
        for j in range(dim):
            h = (x[r, j] - m) * k
            g = dy[r, j] * w[j] if affine else dy[r, j]
            mg += g
            mgh += g * h
            if affine:
                dw[j] += dy[r, j] * h
                db[j] += dy[r, j]
        if not want_x:
            continue
        mg /= dim
        mgh /= dim
        for j in range(dim):
            h = (x[r, j] - m) * k
            g = dy[r, j] * w[j] if affine else dy[r, j]
            dx[r, j] = k * (g - mg - h * mgh)
