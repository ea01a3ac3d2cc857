"""Embed kernels: rows of a (input_dim, num_output) table looked up by index."""
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
def embed_forward(index, weight, bias, has_bias, y):
    """y[m] = weight[index[m]] (+ bias)."""
    rows, width = y.shape
    for m in range(rows):
        k = int(index[m])
        for j in range(width):
            y[m, j] = weight[k, j] + bias[j] if has_bias else weight[k, j]


@njit(cache=True)
def embed_backward(index, dy, dweight, dbias, has_bias):
    """dweight[index[m]] += dy[m]; dbias += sum_m dy[m] (serial: indices repeat)."""
    rows, width = dy.shape
    for m in range(rows):
        k = int(index[m])
        for j in range(width):
            dweight[k, j] += dy[m, j]
            if has_bias:
                dbias[j] += dy[m, j]
