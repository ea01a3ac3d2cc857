"""Permute's strided copy, the CUDA twin of kernels/cpu/permute.py: y = x.transpose(order).
One thread per output element (the writes coalesce) splits its flat index over y's shape
and gathers from x through x's strides taken in `order`."""
from numba import cuda

from .launch import flat, grid


@cuda.jit
def _permute(x, shape, strides, y):
    e = cuda.grid(1)
    while e < y.size:
        rest = e
        src = 0
        for d in range(len(shape) - 1, -1, -1):
            src += (rest % shape[d]) * strides[d]
            rest //= shape[d]
        y[e] = x[src]
        e += cuda.gridsize(1)


def permute(x, order, y):
    """y = x.transpose(order); x, y C-contiguous device arrays (y of the permuted shape)."""
    stride = [1] * x.ndim
    for d in range(x.ndim - 2, -1, -1):
        stride[d] = stride[d + 1] * x.shape[d + 1]
    strides = tuple(stride[a] for a in order)
    _permute[grid(y.size)](flat(x), tuple(int(s) for s in y.shape), strides, flat(y))
