"""Infogain loss kernels over an (outer, C, inner) probability view, labels and a (C, C)
matrix H, the CUDA twins of kernels/cpu/infogain_loss.py: loss = -sum over counted positions
of sum_c H[label, c] log max(p_c, 1e-20); dx_c = (p_c * row_sums[label] - H[label, c]) *
scale, 0 at positions labelled `ignore_label`.

The forward's sum, count and first bad position run in one block (float64, a fixed order,
no atomics) and come back once, as the CPU kernel returns them."""
import math

import numpy as np
from numba import cuda, float64, int64

from ..cpu.infogain_loss import LOG_THRESHOLD
from .launch import THREADS, grid, reduce_sum_count_first, scratch

_NONE = np.int64(1 << 62)      # "no bad label" in a min-reduction


@cuda.jit
def _forward(prob, labels, h, ignore_label, has_ignore, work):
    tot = cuda.shared.array(THREADS, float64)
    cnt = cuda.shared.array(THREADS, int64)
    bads = cuda.shared.array(THREADS, int64)
    outer, channels, inner = prob.shape
    t = cuda.threadIdx.x
    s = float64(0)
    n = 0
    bad = _NONE
    p = t
    while p < outer * inner:
        o = p // inner
        i = p % inner
        label = int(labels[p])
        if not (has_ignore and label == ignore_label):
            if label < 0 or label >= channels:
                bad = min(bad, p)
            else:
                for c in range(channels):
                    s -= h[label, c] * math.log(max(float64(prob[o, c, i]), LOG_THRESHOLD))
                n += 1
        p += THREADS
    tot[t] = s
    cnt[t] = n
    bads[t] = bad
    reduce_sum_count_first(tot, cnt, bads, t)
    if t == 0:
        work[0] = tot[0]
        work[1] = cnt[0] if bads[0] == _NONE else -1 - bads[0]


@cuda.jit
def _backward(prob, labels, h, row_sums, ignore_label, has_ignore, scale, dx):
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
            dx[o, c, i] = (prob[o, c, i] * row_sums[label] - h[label, c]) * scale
        k += cuda.gridsize(1)


def infogain_forward(prob, labels, h, ignore_label, has_ignore):
    """Return (summed loss, counted positions), or (0, -1 - position) for a bad label."""
    work = scratch(2, np.float64)
    _forward[1, THREADS](prob, labels.reshape(labels.size), h, int(ignore_label),
                         bool(has_ignore), work)
    total, count = work.copy_to_host()
    return (float(total), int(count)) if count >= 0 else (0.0, int(count))


def infogain_backward(prob, labels, h, row_sums, ignore_label, has_ignore, scale, dx):
    _backward[grid(prob.size)](prob, labels.reshape(labels.size), h, row_sums,
                               int(ignore_label), bool(has_ignore), dx.dtype.type(scale), dx)
