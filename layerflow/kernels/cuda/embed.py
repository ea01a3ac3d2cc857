"""Embed kernels, the CUDA twins of kernels/cpu/embed.py: rows of an (input_dim, num_output)
table looked up by index. The gradient scatters rows into the table where indices repeat;
without atomics, one thread per column walks the indices in order (the CPU loop's order,
the same bits every run), so the parallelism is num_output wide."""
import numpy as np
from numba import cuda, int64

from .launch import THREADS, flat, grid, scratch, tree_min

_NONE = np.int64(1 << 62)      # "no bad index" in a min-reduction


@cuda.jit
def _first_bad(index, n, work):
    buf = cuda.shared.array(THREADS, int64)
    t = cuda.threadIdx.x
    bad = _NONE
    m = t
    while m < index.size:
        v = index[m]
        if not (0 <= v and v < n) or v != int(v):
            bad = min(bad, m)
        m += THREADS
    buf[t] = bad
    tree_min(buf, t)
    if t == 0:
        work[0] = -1 if buf[0] == _NONE else buf[0]


@cuda.jit
def _forward(index, weight, bias, has_bias, y):
    rows, width = y.shape
    e = cuda.grid(1)
    while e < y.size:
        m = e // width
        j = e % width
        k = int(index[m])
        y[m, j] = weight[k, j] + bias[j] if has_bias else weight[k, j]
        e += cuda.gridsize(1)


@cuda.jit
def _backward(index, dy, dweight, dbias, has_bias):
    rows, width = dy.shape
    j = cuda.grid(1)
    while j < width:
        for m in range(rows):
            g = dy[m, j]
            dweight[int(index[m]), j] += g
            if has_bias:
                dbias[j] += g
        j += cuda.gridsize(1)


def first_bad_index(index, n):
    """The position of the first index outside [0, n) or not an integer, else -1 (one
    number comes back)."""
    work = scratch(1, np.int64)
    _first_bad[1, THREADS](flat(index), int(n), work)
    return int(work.copy_to_host()[0])


def embed_forward(index, weight, bias, has_bias, y):
    """y[m] = weight[index[m]] (+ bias)."""
    _forward[grid(y.size)](flat(index), weight, bias, bool(has_bias), y)


def embed_backward(index, dy, dweight, dbias, has_bias):
    """dweight[index[m]] += dy[m]; dbias += sum_m dy[m]."""
    _backward[grid(dy.shape[1])](flat(index), dy, dweight, dbias, bool(has_bias))
