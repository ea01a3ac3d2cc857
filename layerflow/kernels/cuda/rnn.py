"""Elman RNN step kernels (Caffe's RNN), the CUDA twins of kernels/cpu/rnn.py:
h_t = tanh(pre), dpre = dy (1 - y^2), and the sequence-continuation mask
out = cont * x (row n scaled by cont[n]). (N, H) device arrays; one thread per element."""
import math

from numba import cuda

from .launch import grid


@cuda.jit
def _tanh_forward(pre, out):
    N, H = out.shape
    e = cuda.grid(1)
    while e < out.size:
        out[e // H, e % H] = math.tanh(pre[e // H, e % H])
        e += cuda.gridsize(1)


@cuda.jit
def _tanh_backward(dy, y, dpre):
    N, H = y.shape
    e = cuda.grid(1)
    while e < y.size:
        v = y[e // H, e % H]
        dpre[e // H, e % H] = dy[e // H, e % H] * (1.0 - v * v)
        e += cuda.gridsize(1)


@cuda.jit
def _mask_rows(cont, x, out):
    N, H = out.shape
    e = cuda.grid(1)
    while e < out.size:
        out[e // H, e % H] = cont[e // H] * x[e // H, e % H]
        e += cuda.gridsize(1)


def tanh_forward(pre, out):
    """out = tanh(pre), (N, H) arrays (may be one array)."""
    _tanh_forward[grid(out.size)](pre, out)


def tanh_backward(dy, y, dpre):
    """dpre = dy * (1 - y^2)."""
    _tanh_backward[grid(y.size)](dy, y, dpre)


def mask_rows(cont, x, out):
    """out[n] = cont[n] * x[n] (out may be x)."""
    _mask_rows[grid(out.size)](cont, x, out)
