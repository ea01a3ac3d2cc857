"""Dropout kernels with inverted scaling: y = x * [u >= ratio] / (1 - ratio), u ~ U[0, 1)."""
import numpy as np
from numba import njit


@njit(cache=True)
def dropout_forward(x, u, ratio, scale, out):
    for i in range(x.size):
        out[i] = x[i] * scale if u[i] >= ratio else 0.0


@njit(cache=True)
def dropout_backward(dy, u, ratio, scale, dx):
    for i in range(dy.size):
        dx[i] = dy[i] * scale if u[i] >= ratio else 0.0


@njit(cache=True)
def _mix32(x):
    """Wellons' lowbias32 on a uint64 holding 32 bits (no product reaches 2^64)."""
    m = np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & m
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & m
    x ^= x >> np.uint64(16)
    return x


@njit(cache=True)
def dropout_uniform(seed, u):
    """u[i] = U[0, 1) from a counter hash of (seed, i): the host twin of
    kernels/cuda/dropout.py's, the same numbers (24 random bits, exact in float32)."""
    s = np.uint64(seed)
    k0 = s & np.uint64(0xFFFFFFFF)
    k1 = s >> np.uint64(32)
    for i in range(u.size):
        h = _mix32(((np.uint64(i) * np.uint64(0x9E3779B9)) & np.uint64(0xFFFFFFFF)) ^ k0)
        h = _mix32(h ^ k1)
        u[i] = (h >> np.uint64(8)) * (1.0 / 16777216.0)
