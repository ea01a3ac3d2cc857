"""Softmax cross-entropy kernels over an (outer, channels, inner) view, the CUDA twins of
kernels/cpu/softmax_loss.py: loss = -sum log p[label] over positions whose label is not
`ignore_label`; dx = (p - onehot(label)) * scale at those positions, 0 at ignored ones.

The forward's sum runs in one block (a fixed order: the same bits every run) and comes
back to the host with the count, as the CPU kernel returns them: the loss is the one number
a training iteration reads back."""
import math

import numpy as np
from numba import cuda, float64, int64

from .launch import THREADS, reduce_sum_count_first, f64, grid, scratch
from .softmax import softmax_forward

FLT_MIN = 1.1754944e-38
_NONE = np.int64(1 << 62)      # "no bad label" in a min-reduction


@cuda.jit
def _loss_sum(prob, labels, ignore_label, has_ignore, work):
    """work[0] = sum of -log p[label]; work[1] = counted positions, or -1 - the first
    position whose label is outside [0, channels) and not ignored."""
    outer, channels, inner = prob.shape
    tot = cuda.shared.array(THREADS, float64)
    cnt = cuda.shared.array(THREADS, int64)
    bad = cuda.shared.array(THREADS, int64)
    t = cuda.threadIdx.x
    s = float64(0)
    n = 0
    b = _NONE
    p = t
    while p < outer * inner:
        label = int(labels[p])
        if not (has_ignore and label == ignore_label):
            if label < 0 or label >= channels:
                b = min(b, p)
            else:
                s -= math.log(max(float64(prob[p // inner, label, p % inner]), FLT_MIN))
                n += 1
        p += THREADS
    tot[t] = s
    cnt[t] = n
    bad[t] = b
    reduce_sum_count_first(tot, cnt, bad, t)
    if t == 0:
        work[0] = tot[0]
        work[1] = cnt[0] if bad[0] == _NONE else -1 - bad[0]


@cuda.jit
def _backward(prob, labels, ignore_label, has_ignore, scale, dx):
    outer, channels, inner = prob.shape
    k = cuda.grid(1)
    while k < prob.size:
        o = k // (channels * inner)
        c = (k // inner) % channels
        i = k % inner
        label = int(labels[o * inner + i])
        if has_ignore and label == ignore_label:
            dx[o, c, i] = 0
        else:
            v = dx.dtype.type(prob[o, c, i] * scale)     # the CPU loop's two roundings
            if c == label:
                v = dx.dtype.type(v - scale)
            dx[o, c, i] = v
        k += cuda.gridsize(1)


def softmax_loss_forward(x, labels, ignore_label, has_ignore, prob):
    """Fill `prob`; return (sum of -log p[label], number of counted positions), as the CPU
    kernel does (count -1 - position for a label outside [0, channels)). x, prob:
    (outer, channels, inner) device arrays; labels: flat device array of outer*inner."""
    softmax_forward(x, prob)
    work = scratch(2, np.float64)
    _loss_sum[1, THREADS](prob, labels, int(ignore_label), bool(has_ignore), work)
    total, count = work.copy_to_host()
    return float(total), int(count)


def softmax_loss_backward(prob, labels, ignore_label, has_ignore, scale, dx):
    _backward[grid(prob.size)](prob, labels, int(ignore_label), bool(has_ignore),
                               *f64(scale), dx)
