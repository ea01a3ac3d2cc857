"""MVN kernels over the rows of an (R, D) device array, the CUDA twins of
kernels/cpu/mvn.py: y = (x - mean) / (std + eps) or x - mean, the row's std and
1 / (std + eps) kept; backward the exact gradient as on the CPU. One thread per row, its
sums in float64 in the row's order (as the CPU loop): enough for MVN's rows (N*C of them,
or N); a block per row would pay for few, long rows."""
import math

from numba import cuda, float64

from .launch import grid


@cuda.jit
def _forward(x, normalize_variance, eps, y, std, inv):
    rows, dim = x.shape
    r = cuda.grid(1)
    while r < rows:
        m = float64(0)
        for j in range(dim):
            m += x[r, j]
        m /= dim
        if normalize_variance:
            v = float64(0)
            for j in range(dim):
                d = x[r, j] - m
                v += d * d
            s = math.sqrt(v / dim)
            k = 1.0 / (s + eps)
            std[r] = s
            inv[r] = k
            for j in range(dim):
                y[r, j] = (x[r, j] - m) * k
        else:
            for j in range(dim):
                y[r, j] = x[r, j] - m
        r += cuda.gridsize(1)


@cuda.jit
def _backward(y, dy, normalize_variance, std, inv, dx):
    rows, dim = y.shape
    r = cuda.grid(1)
    while r < rows:
        mg = float64(0)
        mgy = float64(0)
        for j in range(dim):
            mg += dy[r, j]
            mgy += dy[r, j] * y[r, j]
        mg /= dim
        mgy /= dim
        if normalize_variance:
            k = inv[r]
            c = mgy / (std[r] * k) if std[r] > 0 else 0.0
            for j in range(dim):
                dx[r, j] = (dy[r, j] - mg - y[r, j] * c) * k
        else:
            for j in range(dim):
                dx[r, j] = dy[r, j] - mg
        r += cuda.gridsize(1)


def mvn_forward(x, normalize_variance, eps, y, std, inv):
    _forward[grid(x.shape[0])](x, bool(normalize_variance), float64(eps), y, std, inv)


def mvn_backward(y, dy, normalize_variance, std, inv, dx):
    _backward[grid(y.shape[0])](y, dy, bool(normalize_variance), std, inv, dx)
