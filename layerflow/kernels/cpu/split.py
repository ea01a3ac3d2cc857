"""Split kernel: dx = the sum of the tops' diffs (`parts` > 1: one run per thread)."""
from numba import njit

from .eltwise import split_runs


@njit(cache=True, nogil=True)
def _sum(a, b, out):
    for i in range(a.size):
        out[i] = a[i] + b[i]


def sum_into(a, b, out, parts=1):
    """out = a + b (out may be a: the sum over more than two tops goes on in place)."""
    split_runs(lambda lo, hi: _sum(a[lo:hi], b[lo:hi], out[lo:hi]), a.size, parts)
