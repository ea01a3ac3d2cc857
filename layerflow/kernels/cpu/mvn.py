"""MVN kernels over the rows of an (R, D) array: y = (x - mean) / (std + eps) or x - mean.
The forward keeps each row's std and 1 / (std + eps) for the backward."""
import math

from numba import njit


@njit(cache=True)
def mvn_forward(x, normalize_variance, eps, y, std, inv):
    rows, dim = x.shape
    for r in range(rows):
        m = 0.0
        for j in range(dim):
            m += x[r, j]
        m /= dim
        if not normalize_variance:
            for j in range(dim):
                y[r, j] = x[r, j] - m
            continue
        v = 0.0
        for j in range(dim):
            d = x[r, j] - m
            v += d * d
        s = math.sqrt(v / dim)
        k = 1.0 / (s + eps)
        std[r] = s
        inv[r] = k
        for j in range(dim):
            y[r, j] = (x[r, j] - m) * k


@njit(cache=True)
def mvn_backward(y, dy, normalize_variance, std, inv, dx):
    """dx = dy - mean(dy), or (dy - mean(dy) - y mean(dy y) (std + eps) / std) / (std + eps),
    the exact gradient (Caffe drops the (std + eps) / std factor, 1 within eps)."""
    rows, dim = y.shape
    for r in range(rows):
        mg = 0.0
        mgy = 0.0
        for j in range(dim):
            mg += dy[r, j]
            mgy += dy[r, j] * y[r, j]
        mg /= dim
        mgy /= dim
        if not normalize_variance:
            for j in range(dim):
                dx[r, j] = dy[r, j] - mg
            continue
        k = inv[r]
        c = mgy / (std[r] * k) if std[r] > 0 else 0.0
        for j in range(dim):
            dx[r, j] = (dy[r, j] - mg - y[r, j] * c) * k
