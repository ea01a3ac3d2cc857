"""Tile kernel, the CUDA twin of kernels/cpu/tile.py: the gradient of a tiled copy sums the
copies, dx[o, i] = sum_t dy[o, t, i], one thread per (o, i) adding the tiles in order (the
CPU's order: the same bits). The forward is block copies (kernels/cuda/copy.py)."""
from numba import cuda

from .launch import grid


@cuda.jit
def _backward(dy, dx):
    outer, tiles, inner = dy.shape
    e = cuda.grid(1)
    while e < dx.size:
        o = e // inner
        i = e % inner
        acc = dy[o, 0, i]
        for t in range(1, tiles):
            acc += dy[o, t, i]
        dx[o, i] = acc
        e += cuda.gridsize(1)


def tile_backward(dy, dx):
    """dy: (outer, tiles, inner), dx: (outer, inner), written."""
    _backward[grid(dx.size)](dy, dx)
