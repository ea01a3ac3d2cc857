"""Elman RNN step kernels (Caffe's RNN): h_t = tanh(pre), dpre = dh (1 - h_t^2), and the
sequence-continuation mask h_conted = cont * h_{t-1} (and its gradient, the same mask)."""
import math

from numba import njit


@njit(cache=True)
def tanh_forward(pre, out):
    """out = tanh(pre), (N, H) arrays."""
    N, H = out.shape
    for n in range(N):
        for j in range(H):
            out[n, j] = math.tanh(pre[n, j])


@njit(cache=True)
def tanh_backward(dy, y, dpre):
    """dpre = dy * (1 - y^2) with y = tanh(pre), (N, H) arrays."""
    N, H = y.shape
    for n in range(N):
        for j in range(H):
            v = y[n, j]
            dpre[n, j] = dy[n, j] * (1.0 - v * v)


@njit(cache=True)
def mask_rows(cont, x, out):
    """out[n] = cont[n] * x[n] (the hidden state kept across a sequence boundary or not)."""
    N, H = out.shape
    for n in range(N):
        k = cont[n]
        for j in range(H):
            out[n, j] = k * x[n, j]
