"""Tile kernel: the gradient of a tiled copy sums the copies, dx[o, i] = sum_t dy[o, t, i]."""
from numba import njit


@njit(cache=True)
def tile_backward(dy, dx):
    """dy: (outer, tiles, inner), dx: (outer, inner), written."""
    outer, tiles, inner = dy.shape
    for o in range(outer):
        for i in range(inner):
            dx[o, i] = dy[o, 0, i]
        for t in range(1, tiles):
            for i in range(inner):
                dx[o, i] += dy[o, t, i]
