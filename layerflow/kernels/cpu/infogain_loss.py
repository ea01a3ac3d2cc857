"""Infogain loss kernels over an (outer, C, inner) probability view, labels and a (C, C)
matrix H: loss = -sum over counted positions of sum_c H[label, c] log max(p_c, 1e-20);
dx_c = p_c * sum_k H[label, k] - H[label, c] (scaled by the caller), 0 at positions
labelled `ignore_label`."""
import math

from numba import njit

LOG_THRESHOLD = 1e-20


@njit(cache=True)
def infogain_forward(prob, labels, h, ignore_label, has_ignore):
    """Return (summed loss, counted positions), or (0, -1 - position) for a bad label."""
    outer, channels, inner = prob.shape
    total = 0.0
    count = 0
    for o in range(outer):
        for i in range(inner):
            label = int(labels[o * inner + i])
            if has_ignore and label == ignore_label:
                continue
            if label < 0 or label >= channels:
                return 0.0, -1 - (o * inner + i)
            for c in range(channels):
                total -= h[label, c] * math.log(max(prob[o, c, i], LOG_THRESHOLD))
            count += 1
    return total, count


@njit(cache=True)
def infogain_backward(prob, labels, h, row_sums, ignore_label, has_ignore, scale, dx):
    outer, channels, inner = prob.shape
    for o in range(outer):
        for i in range(inner):
            label = int(labels[o * inner + i])
            if has_ignore and label == ignore_label:
                for c in range(channels):
                    dx[o, c, i] = 0
                continue
            r = row_sums[label]
            for c in range(channels):
                dx[o, c, i] = (prob[o, c, i] * r - h[label, c]) * scale
