"""Softmax over the middle axis of an (outer, channels, inner) view.

y = exp(x - max) / sum(exp(x - max)); dx = y * (dy - sum(dy * y)) along the channels."""
import math

from numba import njit


@njit(cache=True)
def softmax_forward(x, out):
    outer, channels, inner = x.shape
    for o in range(outer):
        for i in range(inner):
            m = x[o, 0, i]
            for c in range(1, channels):
                if x[o, c, i] > m:
                    m = x[o, c, i]
            s = 0.0
            for c in range(channels):
                e = math.exp(x[o, c, i] - m)
                out[o, c, i] = e
                s += e
            inv = 1.0 / s
            for c in range(channels):
                out[o, c, i] *= inv


@njit(cache=True)
def softmax_backward(y, dy, dx):
    outer, channels, inner = y.shape
    for o in range(outer):
        for i in range(inner):
            dot = 0.0
            for c in range(channels):
                dot += dy[o, c, i] * y[o, c, i]
            for c in range(channels):
                dx[o, c, i] = y[o, c, i] * (dy[o, c, i] - dot)
