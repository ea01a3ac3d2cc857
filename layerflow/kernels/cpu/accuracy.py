"""Accuracy kernel: a position is right when its label is among the top_k scores (ties
count against, as in Caffe: a score strictly greater than the label's ranks above it).

A position with any NaN score is never right (it is counted, as wrong): in Caffe, and here
before, NaN compares false with everything, so a label whose score was NaN had nothing
"above" it and a net with NaN weights scored accuracy 1."""
import math

from numba import njit


@njit(cache=True)
def topk_correct(scores, labels, top_k, ignore_label, has_ignore):
    """(correct, counted) over an (outer, channels, inner) score view."""
    outer, channels, inner = scores.shape
    correct = 0
    counted = 0
    for o in range(outer):
        for i in range(inner):
            label = int(labels[o * inner + i])
            if has_ignore and label == ignore_label:
                continue
            if label < 0 or label >= channels:
                return -1 - (o * inner + i), 0
            s = scores[o, label, i]
            above = 0
            bad = math.isnan(s)
            for c in range(channels):
                v = scores[o, c, i]
                if v > s:
                    above += 1
                elif math.isnan(v):
                    bad = True
            if above < top_k and not bad:
                correct += 1
            counted += 1
    return correct, counted
