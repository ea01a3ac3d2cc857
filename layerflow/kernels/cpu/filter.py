"""Filter kernels: the rows whose selector is non-zero, copied forward and back."""
from numba import njit


@njit(cache=True)
def select_rows(selector, rows):
    """Write the indices of the non-zero selector entries into rows; return their number."""
    m = 0
    for i in range(selector.size):
        if selector[i] != 0:
            rows[m] = i
            m += 1
    return m


@njit(cache=True)
def filter_forward(x, rows, y):
    """y[m] = x[rows[m]] for m < y.shape[0]."""
    kept, inner = y.shape
    for m in range(kept):
        k = rows[m]
        for i in range(inner):
            y[m, i] = x[k, i]


@njit(cache=True)
def filter_backward(dy, rows, dx):
    """dx[rows[m]] = dy[m], every other row of dx 0."""
    dx[...] = 0
    kept, inner = dy.shape
    for m in range(kept):
        k = rows[m]
        for i in range(inner):
            dx[k, i] = dy[m, i]
