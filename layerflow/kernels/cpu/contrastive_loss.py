"""Contrastive loss kernels over (N, C) features a, b and N similarity flags.

d = a - b (kept), D^2 = |d|^2 (kept). Per pair: similar (flag != 0): D^2; dissimilar:
max(margin - D, 0)^2, or with `legacy` max(margin - D^2, 0). Gradient to a (b gets the
negative): similar alpha * d; dissimilar -alpha * (margin - D) / (D + 1e-4) * d where
margin - D > 0 (Caffe's epsilon keeps D = 0 finite), legacy -alpha * d where
margin - D^2 > 0; else 0."""
import math

from numba import njit


@njit(cache=True)
def contrastive_forward(a, b, sim, margin, legacy, diff, dist_sq):
    """Fill `diff` and `dist_sq`; return the summed per-pair losses (before 1 / 2N)."""
    n, c = a.shape
    total = 0.0
    for i in range(n):
        s = 0.0
        for j in range(c):
            v = a[i, j] - b[i, j]
            diff[i, j] = v
            s += v * v
        dist_sq[i] = s
        if int(sim[i]) != 0:
            total += s
        elif legacy:
            total += max(margin - s, 0.0)
        else:
            m = max(margin - math.sqrt(s), 0.0)
            total += m * m
    return total


@njit(cache=True)
def contrastive_backward(diff, dist_sq, sim, margin, legacy, alpha, out):
    n, c = diff.shape
    for i in range(n):
        if int(sim[i]) != 0:
            k = alpha
        elif legacy:
            k = -alpha if margin - dist_sq[i] > 0 else 0.0
        else:
            dist = math.sqrt(dist_sq[i])
            mdist = margin - dist
            k = -alpha * mdist / (dist + 1e-4) if mdist > 0 else 0.0
        for j in range(c):
            out[i, j] = k * diff[i, j]
