"""Hinge loss kernels over (N, D) scores and N labels.

m[i, j] = max(0, 1 - x[i, j]) for j = label[i], else max(0, 1 + x[i, j]);
L1: sum m, dx = -/+ (m > 0); L2: sum m^2, dx = -/+ 2 m (minus at the label), scaled by
the caller."""
from numba import njit

REDUCE = {"reassoc", "contract"}      # the sums may be reordered, so that they vectorize


@njit(cache=True, fastmath=REDUCE)
def hinge_forward(x, labels, margins):
    """Fill `margins`; return (sum m, sum m^2, -1), or (0, 0, i) for a label outside [0, D).
    The labels are checked first, so that the sums run without an exit (and vectorize)."""
    n, d = x.shape
    for i in range(n):
        label = int(labels[i])
        if label < 0 or label >= d:
            return 0.0, 0.0, i
    zero, one = x.dtype.type(0), x.dtype.type(1)
    l1 = 0.0
    l2 = 0.0
    for i in range(n):
        for j in range(d):
            m = max(one + x[i, j], zero)
            margins[i, j] = m
            l1 += m
            l2 += m * m
        label = int(labels[i])
        m = max(one - x[i, label], zero)      # the label's own margin, replacing the above
        old = margins[i, label]
        margins[i, label] = m
        l1 += m - old
        l2 += m * m - old * old
    return l1, l2, -1


@njit(cache=True)
def hinge_backward(margins, labels, scale, squared, dx):
    n, d = margins.shape
    for i in range(n):
        label = int(labels[i])
        for j in range(d):
            m = margins[i, j]
            g = 2 * m * scale if squared else (scale if m > 0 else 0)
            dx[i, j] = -g if j == label else g
