"""Eltwise kernels on flat arrays: weighted sum, product, maximum with the argmax kept.

SUM:  y = sum_k c_k x_k,          dx_k = c_k dy
PROD: y = prod_k x_k,             dx_k = dy prod_{j != k} x_j  (or dy y / x_k, unstable)
MAX:  y = max_k x_k, a = argmax,  dx_k = dy where a == k, else 0 (ties go to the first)

SUM's kernels (and ReLU's and Split's, which import `run_bounds`) take `parts`: the array
cut into that many runs, one per part of threads.run_parallel, where `parts_for` says it
pays; the default 1 keeps the CUDA twins' signatures. The per-run loops release the GIL.
"""
from numba import njit

from .threads import run_parallel

PARALLEL_MIN = 1 << 18      # values below which an element-wise pass stays on one thread


def parts_for(threads, count):
    """How many runs (threads) an element-wise or reducing pass over `count` values is cut
    into: one below PARALLEL_MIN, else the net's threads. The runs go to run_parallel's
    helper team (a part costs ~10-30 us while its helpers spin); on Numba's sleeping pool
    waking the workers had taken ~0.4 ms, and these passes stayed on one thread below 16M
    values (docs/layers.md). Decided once per shape, in the layer's reshape."""
    return max(1, threads) if count >= PARALLEL_MIN else 1


def split_runs(fn, n, parts):
    """fn(lo, hi) over [0, n) cut into `parts` runs of whole cache lines (run_bounds), one
    per part of threads.run_parallel (fn must release the GIL for its work)."""
    if parts <= 1:
        fn(0, n)
        return
    run_parallel(lambda t: fn(*run_bounds(n, t, parts)), parts)


@njit(cache=True)
def run_bounds(n, t, parts):
    """[lo, hi) of run t of `parts` over n values, cut at multiples of 16 (whole 64-byte
    lines of float32, so that two threads never write one line)."""
    lo = (n * t // parts) & ~15
    hi = n if t == parts - 1 else (n * (t + 1) // parts) & ~15
    return lo, hi


@njit(cache=True, nogil=True)
def _weighted_sum2(a, ca, b, cb, y):
    for i in range(y.size):
        y[i] = ca * a[i] + cb * b[i]


def weighted_sum2(a, ca, b, cb, y, parts=1):
    """y = ca a + cb b (`parts` > 1: one run per thread)."""
    split_runs(lambda lo, hi: _weighted_sum2(a[lo:hi], ca, b[lo:hi], cb, y[lo:hi]), y.size,
               parts)


@njit(cache=True)
def axpy(x, c, y):
    """y += c * x."""
    for i in range(y.size):
        y[i] += c * x[i]


@njit(cache=True, nogil=True)
def _scale_into(x, c, y):
    for i in range(y.size):
        y[i] = c * x[i]


def scale_into(x, c, y, parts=1):
    """y = c * x (`parts` > 1: one run per thread)."""
    split_runs(lambda lo, hi: _scale_into(x[lo:hi], c, y[lo:hi]), y.size, parts)


@njit(cache=True, nogil=True)
def _scale_into2(x, c0, y0, c1, y1):
    for i in range(x.size):
        v = x[i]
        y0[i] = c0 * v
        y1[i] = c1 * v


def scale_into2(x, c0, y0, c1, y1, parts=1):
    """y0 = c0 x and y1 = c1 x in one pass over x (SUM's gradient to two bottoms)."""
    split_runs(lambda lo, hi: _scale_into2(x[lo:hi], c0, y0[lo:hi], c1, y1[lo:hi]), x.size,
               parts)


@njit(cache=True)
def multiply2(a, b, y):
    for i in range(y.size):
        y[i] = a[i] * b[i]


@njit(cache=True)
def multiply_into(x, y):
    """y *= x."""
    for i in range(y.size):
        y[i] *= x[i]


@njit(cache=True, error_model="numpy")
def divide_product(dy, y, x, dx):
    """dx = dy * y / x (Caffe's stable_prod_grad: false; inf/nan where x is 0, as Caffe)."""
    for i in range(dx.size):
        dx[i] = dy[i] * y[i] / x[i]


@njit(cache=True)
def max2(a, b, y, arg):
    for i in range(y.size):
        if b[i] > a[i]:
            y[i] = b[i]
            arg[i] = 1
        else:
            y[i] = a[i]
            arg[i] = 0


@njit(cache=True)
def max_update(x, k, y, arg):
    for i in range(y.size):
        if x[i] > y[i]:
            y[i] = x[i]
            arg[i] = k


@njit(cache=True)
def max_backward(dy, arg, k, dx):
    for i in range(dx.size):
        dx[i] = dy[i] if arg[i] == k else 0.0
