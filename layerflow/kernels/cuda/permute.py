"""Permute's strided copy, the CUDA twin of kernels/cpu/permute.py: y = x.transpose(order).
One thread per output element (the writes coalesce) splits its flat index over y's shape
and gathers from x through x's strides taken in `order`. Shapes and strides go to the
kernel as six scalars each (padded with 1s and 0s in front: up to 6 axes), as the crop
kernels take their offsets, so that the kernel's signature is fixed."""
from numba import cuda

from .launch import flat, grid

MAX_AXES = 6


@cuda.jit
def _permute(x, n0, n1, n2, n3, n4, n5, s0, s1, s2, s3, s4, s5, y):
    e = cuda.grid(1)
    while e < y.size:
        r = e
        src = (r % n5) * s5
        r //= n5
        src += (r % n4) * s4
        r //= n4
        src += (r % n3) * s3
        r //= n3
        src += (r % n2) * s2
        r //= n2
        src += (r % n1) * s1
        r //= n1
        src += (r % n0) * s0
        y[e] = x[src]
        e += cuda.gridsize(1)


def permute(x, order, y):
    """y = x.transpose(order); x, y C-contiguous device arrays (y of the permuted shape),
    at most 6 axes."""
    if x.ndim > MAX_AXES:
        raise ValueError(f"permute: {x.ndim} axes, the CUDA kernel takes at most {MAX_AXES}")
    stride = [1] * x.ndim
    for d in range(x.ndim - 2, -1, -1):
        stride[d] = stride[d + 1] * x.shape[d + 1]
    pad = MAX_AXES - x.ndim
    shape = [1] * pad + [int(s) for s in y.shape]
    strides = [0] * pad + [stride[a] for a in order]
    _permute[grid(y.size)](flat(x), *shape, *strides, flat(y))
