"""Softmax cross-entropy kernels over an (outer, channels, inner) probability view.

loss = -sum log p[label] over positions whose label is not `ignore_label`;
dx = p - onehot(label) at those positions, 0 at ignored ones (scaled by the caller)."""
import math

from numba import njit

from .softmax import softmax_forward


@njit(cache=True)
def softmax_loss_forward(x, labels, ignore_label, has_ignore, prob):
    """Fill `prob`; return (sum of -log p[label], number of counted positions).

    A label outside [0, channels) returns count -1 - position, so the caller can report it."""
    softmax_forward(x, prob)
    outer, channels, inner = x.shape
    total = 0.0
    count = 0
    for o in range(outer):
        for i in range(inner):
            label = int(labels[o * inner + i])
            if has_ignore and label == ignore_label:
                continue
            if label < 0 or label >= channels:
                return 0.0, -1 - (o * inner + i)
            p = prob[o, label, i]
            total -= math.log(max(p, 1.1754944e-38))
            count += 1
    return total, count


@njit(cache=True)
def softmax_loss_backward(prob, labels, ignore_label, has_ignore, scale, dx):
    outer, channels, inner = prob.shape
    for o in range(outer):
        for i in range(inner):
            label = int(labels[o * inner + i])
            if has_ignore and label == ignore_label:
                for c in range(channels):
                    dx[o, c, i] = 0.0
                continue
            for c in range(channels):
                dx[o, c, i] = prob[o, c, i] * scale
            dx[o, label, i] -= scale
