"""Split kernel, the CUDA twin of kernels/cpu/split.py: dx = the sum of the tops' diffs."""
from numba import cuda

from .launch import flat, grid


@cuda.jit
def _sum_into(a, b, out):
    i = cuda.grid(1)
    while i < out.size:
        out[i] = a[i] + b[i]
        i += cuda.gridsize(1)


def sum_into(a, b, out):
    out = flat(out)
    _sum_into[grid(out.size)](flat(a), flat(b), out)
