"""Normalize kernels (SSD's L2 normalization) on an (N, C, S) array.

across_spatial: one norm per sample, sqrt(sum_{c,s} x^2 + eps); else one per sample and
position, sqrt(sum_c x^2 + eps). y = x / norm * scale[c] (scale has 1 or C values)."""
import math

from numba import njit


@njit(cache=True)
def normalize_forward(x, scale, across_spatial, eps, y, norm):
    """norm: (N,) or (N, S) flattened, kept for the backward."""
    n_, c_, s_ = x.shape
    shared = scale.size == 1
    for n in range(n_):
        if across_spatial:
            acc = 0.0
            for c in range(c_):
                for s in range(s_):
                    acc += x[n, c, s] * x[n, c, s]
            norm[n] = math.sqrt(acc + eps)
        else:
            for s in range(s_):
                norm[n * s_ + s] = eps
            for c in range(c_):
                for s in range(s_):
                    norm[n * s_ + s] += x[n, c, s] * x[n, c, s]
            for s in range(s_):
                norm[n * s_ + s] = math.sqrt(norm[n * s_ + s])
        for c in range(c_):
            k = scale[0] if shared else scale[c]
            for s in range(s_):
                d = norm[n] if across_spatial else norm[n * s_ + s]
                y[n, c, s] = x[n, c, s] / d * k


@njit(cache=True)
def normalize_backward(x, dy, scale, across_spatial, norm, want_x, dx, dscale, dot):
    """With u = x / norm: dscale[c or 0] += sum dy u; dx = (g - u sum(g u)) / norm where
    g = dy scale and the sum runs over the normalized group. dot: (S,) scratch."""
    n_, c_, s_ = x.shape
    shared = scale.size == 1
    for n in range(n_):
        for c in range(c_):
            acc = 0.0
            for s in range(s_):
                d = norm[n] if across_spatial else norm[n * s_ + s]
                acc += dy[n, c, s] * x[n, c, s] / d
            if shared:
                dscale[0] += acc
            else:
                dscale[c] += acc
        if not want_x:
            continue
        for s in range(s_):
            dot[s] = 0.0
        for c in range(c_):
            k = scale[0] if shared else scale[c]
            for s in range(s_):
                d = norm[n] if across_spatial else norm[n * s_ + s]
                dot[s] += dy[n, c, s] * k * x[n, c, s] / d
        if across_spatial:
            total = 0.0
            for s in range(s_):
                total += dot[s]
            for s in range(s_):
                dot[s] = total
        for c in range(c_):
            k = scale[0] if shared else scale[c]
            for s in range(s_):
                d = norm[n] if across_spatial else norm[n * s_ + s]
                dx[n, c, s] = (dy[n, c, s] * k - x[n, c, s] / d * dot[s]) / d
