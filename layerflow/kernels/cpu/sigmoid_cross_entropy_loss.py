"""Sigmoid cross-entropy kernels over flat scores x and targets t (probabilities in [0, 1]).

Per element, loss = max(x, 0) - x t + log1p(exp(-|x|)) (= -t log s - (1 - t) log(1 - s),
s = sigmoid(x), with no exp that can overflow); dx = s - t (scaled by the caller).
Elements whose target, cast to int, is `ignore_label` add nothing and get dx = 0."""
import math

from numba import njit


@njit(cache=True)
def sigmoid_ce_forward(x, t, ignore_label, has_ignore, sig):
    """Fill `sig` with sigmoid(x); return (summed loss, number of counted elements)."""
    total = 0.0
    count = 0
    for i in range(x.size):
        v = x[i]
        if v >= 0:
            e = math.exp(-v)
            sig[i] = 1 / (1 + e)
            loss = v - v * t[i] + math.log1p(e)
        else:
            e = math.exp(v)
            sig[i] = e / (1 + e)
            loss = -v * t[i] + math.log1p(e)
        if has_ignore and int(t[i]) == ignore_label:
            continue
        total += loss
        count += 1
    return total, count


@njit(cache=True)
def sigmoid_ce_backward(sig, t, ignore_label, has_ignore, scale, dx):
    for i in range(sig.size):
        if has_ignore and int(t[i]) == ignore_label:
            dx[i] = 0
        else:
            dx[i] = (sig[i] - t[i]) * scale
