"""Sigmoid cross-entropy kernels over flat scores x and targets t (probabilities in [0, 1]).

Per element, loss = max(x, 0) - x t + log1p(exp(-|x|)) (= -t log s - (1 - t) log(1 - s),
s = sigmoid(x), with no exp that can overflow); dx = s - t (scaled by the caller).
Elements whose target, cast to int, is `ignore_label` add nothing and get dx = 0."""
from numba import njit

from .fastexp import fexp
from .fastlog import flog1p

REDUCE = {"reassoc", "contract"}      # the loss sum may be reordered, so that it vectorizes


@njit(cache=True, error_model="numpy", fastmath=REDUCE)
def sigmoid_ce_forward(x, t, ignore_label, has_ignore, sig):
    """Fill `sig` with sigmoid(x); return (summed loss, number of counted elements).
    One exp(-|x|) gives the loss and the sigmoid; ignored elements are masked, not
    skipped, so that the loop has no branch."""
    zero, one = x.dtype.type(0), x.dtype.type(1)
    total = 0.0
    count = 0
    for i in range(x.size):
        v = x[i]
        e = fexp(-abs(v))
        r = one / (one + e)
        sig[i] = r if v >= 0 else e * r
        loss = max(v, zero) - v * t[i] + flog1p(e)
        keep = not (has_ignore and int(t[i]) == ignore_label)
        total += loss if keep else zero
        count += 1 if keep else 0
    return total, count


@njit(cache=True)
def sigmoid_ce_backward(sig, t, ignore_label, has_ignore, scale, dx):
    for i in range(sig.size):
        if has_ignore and int(t[i]) == ignore_label:
            dx[i] = 0
        else:
            dx[i] = (sig[i] - t[i]) * scale
