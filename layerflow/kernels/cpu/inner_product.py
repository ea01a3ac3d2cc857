"""InnerProduct helpers around numpy's BLAS matrix products: bias add and bias gradient."""
from numba import njit


@njit(cache=True)
def add_bias(out, bias):
    """out[n, j] += bias[j] for an (N, num_output) output."""
    rows, cols = out.shape
    for n in range(rows):
        for j in range(cols):
            out[n, j] += bias[j]


@njit(cache=True, nogil=True)
def accumulate_bias_grad(dy, db):
    """db[j] += sum_n dy[n, j] (param diffs accumulate, as in Caffe)."""
    rows, cols = dy.shape
    for n in range(rows):
        for j in range(cols):
            db[j] += dy[n, j]


@njit(cache=True, nogil=True)
def accumulate(src, dst):
    """dst += src, flat."""
    for i in range(src.size):
        dst[i] += src[i]
