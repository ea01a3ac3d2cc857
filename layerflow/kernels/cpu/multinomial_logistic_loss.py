"""Multinomial logistic loss kernels over (N, D) probabilities and N labels:
loss = -sum log max(p[i, label], 1e-20) (Caffe's kLOG_THRESHOLD);
dx[i, label] = -scale / max(p[i, label], 1e-20), 0 elsewhere."""
import math

from numba import njit

LOG_THRESHOLD = 1e-20


@njit(cache=True)
def mlogistic_forward(p, labels):
    """Return (sum of -log p[label], -1), or (0, i) for a label outside [0, D)."""
    n, d = p.shape
    total = 0.0
    for i in range(n):
        label = int(labels[i])
        if label < 0 or label >= d:
            return 0.0, i
        total -= math.log(max(p[i, label], LOG_THRESHOLD))
    return total, -1


@njit(cache=True)
def mlogistic_backward(p, labels, scale, dx):
    n, d = p.shape
    for i in range(n):
        for j in range(d):
            dx[i, j] = 0
        label = int(labels[i])
        dx[i, label] = -scale / max(p[i, label], LOG_THRESHOLD)
