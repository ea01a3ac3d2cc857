"""Split kernel: dx = the sum of the tops' diffs (`parts` > 1: one run per thread)."""
from numba import njit, prange

from .eltwise import run_bounds


@njit(cache=True)
def _sum(a, b, out):
    for i in range(a.size):
        out[i] = a[i] + b[i]


@njit(cache=True, parallel=True)
def sum_into(a, b, out, parts=1):
    """out = a + b (out may be a: the sum over more than two tops goes on in place)."""
    if parts <= 1:
        _sum(a, b, out)
        return
    for t in prange(parts):
        lo, hi = run_bounds(a.size, t, parts)
        _sum(a[lo:hi], b[lo:hi], out[lo:hi])
