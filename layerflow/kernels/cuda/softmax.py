"""Softmax kernels over the middle axis of an (outer, channels, inner) view, the CUDA twins
of kernels/cpu/softmax.py: y = exp(x - max) / sum(exp(x - max));
dx = y * (dy - sum(dy * y)) along the channels.

One thread per (outer, inner) position runs the channel loop, as the CPU loop does
(float64 sums, typed: numpy 2 keeps `0.0 + float32`
float32 in the simulator): enough for the class scores of a classifier; a block per position would
pay only for thousands of channels."""
import math

from numba import cuda, float64

from .launch import grid


@cuda.jit
def _forward(x, out):
    outer, channels, inner = x.shape
    p = cuda.grid(1)
    while p < outer * inner:
        o = p // inner
        i = p % inner
        m = x[o, 0, i]
        for c in range(1, channels):
            if x[o, c, i] > m:
                m = x[o, c, i]
        s = float64(0)
        for c in range(channels):
            e = math.exp(x[o, c, i] - m)
            out[o, c, i] = e
            s += e
        inv = 1.0 / s
        for c in range(channels):
            out[o, c, i] *= inv
        p += cuda.gridsize(1)


@cuda.jit
def _backward(y, dy, dx):
    outer, channels, inner = y.shape
    p = cuda.grid(1)
    while p < outer * inner:
        o = p // inner
        i = p % inner
        dot = float64(0)
        for c in range(channels):
            dot += dy[o, c, i] * y[o, c, i]
        for c in range(channels):
            dx[o, c, i] = y[o, c, i] * (dy[o, c, i] - dot)
        p += cuda.gridsize(1)


def softmax_forward(x, out):
    """x, out: (outer, channels, inner) device arrays."""
    _forward[grid(x.shape[0] * x.shape[2])](x, out)


def softmax_backward(y, dy, dx):
    _backward[grid(y.shape[0] * y.shape[2])](y, dy, dx)
