"""Accuracy kernel, the CUDA twin of kernels/cpu/accuracy.py: a position is right when its
label is among the top_k scores (ties count against: a score strictly greater than the
label's ranks above it). One block counts all positions (fixed order) and the two counts
come back to the host, as the CPU kernel returns them (Accuracy runs in TEST only)."""
import numpy as np
from numba import cuda, int64

from .launch import THREADS, reduce_sum_count_first, scratch

_NONE = np.int64(1 << 62)


@cuda.jit
def _count(scores, labels, top_k, ignore_label, has_ignore, work):
    outer, channels, inner = scores.shape
    right = cuda.shared.array(THREADS, int64)
    cnt = cuda.shared.array(THREADS, int64)
    bad = cuda.shared.array(THREADS, int64)
    t = cuda.threadIdx.x
    r = 0
    n = 0
    b = _NONE
    p = t
    while p < outer * inner:
        label = int(labels[p])
        if not (has_ignore and label == ignore_label):
            if label < 0 or label >= channels:
                b = min(b, p)
            else:
                o = p // inner
                i = p % inner
                s = scores[o, label, i]
                above = 0
                for c in range(channels):
                    if scores[o, c, i] > s:
                        above += 1
                if above < top_k:
                    r += 1
                n += 1
        p += THREADS
    right[t] = r
    cnt[t] = n
    bad[t] = b
    reduce_sum_count_first(right, cnt, bad, t)
    if t == 0:
        if bad[0] == _NONE:
            work[0] = right[0]
            work[1] = cnt[0]
        else:
            work[0] = -1 - bad[0]
            work[1] = 0


def topk_correct(scores, labels, top_k, ignore_label, has_ignore):
    """(correct, counted) over an (outer, channels, inner) device score view, as the CPU
    kernel returns them ((-1 - position, 0) for a label outside [0, channels))."""
    work = scratch(2, np.int64)
    _count[1, THREADS](scores, labels, int(top_k), int(ignore_label), bool(has_ignore), work)
    correct, counted = work.copy_to_host()
    return int(correct), int(counted)
