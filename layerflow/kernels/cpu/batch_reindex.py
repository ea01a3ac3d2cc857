"""BatchReindex kernels: gather rows by index, and scatter-add them back for the gradient."""
from numba import njit


@njit(cache=True)
def first_bad_index(index, n):
    """The position of the first index outside [0, n) or not an integer, else -1."""
    for m in range(index.size):
        v = index[m]
        if not (0 <= v < n) or v != int(v):
            return m
    return -1


@njit(cache=True)
def reindex_forward(x, index, y):
    """y[m] = x[index[m]]; x: (N, inner), y: (M, inner)."""
    rows, inner = y.shape
    for m in range(rows):
        k = int(index[m])
        for i in range(inner):
            y[m, i] = x[k, i]


@njit(cache=True)
def reindex_backward(dy, index, dx):
    """dx[k] = sum of dy[m] over m with index[m] == k (dx written; serial, rows may repeat)."""
    dx[...] = 0
    rows, inner = dy.shape
    for m in range(rows):
        k = int(index[m])
        for i in range(inner):
            dx[k, i] += dy[m, i]
