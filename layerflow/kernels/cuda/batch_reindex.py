"""BatchReindex kernels, the CUDA twins of kernels/cpu/batch_reindex.py: gather rows by
index, and for the gradient dx[k] = sum of dy[m] over m with index[m] == k. Rows may repeat;
without atomics, one thread per element of dx walks the indices in order (the CPU's order,
the same bits): M checks per element, cheap for batch-sized M."""
from numba import cuda

from .embed import first_bad_index  # noqa: F401  (the same check: first index not in [0, n))
from .launch import flat, grid


@cuda.jit
def _forward(x, index, y):
    rows, inner = y.shape
    e = cuda.grid(1)
    while e < y.size:
        m = e // inner
        i = e % inner
        y[m, i] = x[int(index[m]), i]
        e += cuda.gridsize(1)


@cuda.jit
def _backward(dy, index, dx):
    rows, inner = dy.shape
    e = cuda.grid(1)
    while e < dx.size:
        k = e // inner
        i = e % inner
        acc = dx.dtype.type(0)
        for m in range(rows):
            if int(index[m]) == k:
                acc += dy[m, i]
        dx[k, i] = acc
        e += cuda.gridsize(1)


def reindex_forward(x, index, y):
    """y[m] = x[index[m]]; x: (N, inner), y: (M, inner)."""
    _forward[grid(y.size)](x, flat(index), y)


def reindex_backward(dy, index, dx):
    """dx[k] = sum of dy[m] over m with index[m] == k (dx written)."""
    _backward[grid(dx.size)](dy, flat(index), dx)
