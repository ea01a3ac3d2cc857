"""Block copies for Concat, Slice and Crop on the device (their CPU layers copy with numpy
slicing, so these have no CPU twin module; the tests compare with that slicing).

channel_copy: a (outer, c, inner) block to or from channels [off, off + c) of an
(outer, total, inner) array (Concat forward and Slice backward write into the big one,
Concat backward and Slice forward read from it).
crop_forward / crop_backward: 4-D arrays (fewer axes padded in front with 1s);
y[n, c, h, w] = x[n + o0, c + o1, h + o2, w + o3]; backward writes all of dx (0 outside
the window), one thread per dx element."""
from numba import cuda

from .launch import grid


@cuda.jit
def _channel_copy(small, big, off, into_big):
    O, c, I = small.shape
    e = cuda.grid(1)
    while e < small.size:
        o = e // (c * I)
        k = (e // I) % c
        i = e % I
        if into_big:
            big[o, off + k, i] = small[o, k, i]
        else:
            small[o, k, i] = big[o, off + k, i]
        e += cuda.gridsize(1)


@cuda.jit
def _crop_forward(x, o0, o1, o2, o3, y):
    N, C, H, W = y.shape
    e = cuda.grid(1)
    while e < y.size:
        n = e // (C * H * W)
        c = (e // (H * W)) % C
        h = (e // W) % H
        w = e % W
        y[n, c, h, w] = x[n + o0, c + o1, h + o2, w + o3]
        e += cuda.gridsize(1)


@cuda.jit
def _crop_backward(dy, o0, o1, o2, o3, dx):
    N, C, H, W = dx.shape
    n1, c1, h1, w1 = dy.shape
    e = cuda.grid(1)
    while e < dx.size:
        n = e // (C * H * W) - o0
        c = (e // (H * W)) % C - o1
        h = (e // W) % H - o2
        w = e % W - o3
        inside = (n >= 0 and n < n1 and c >= 0 and c < c1 and h >= 0 and h < h1
                  and w >= 0 and w < w1)
        dx[e // (C * H * W), (e // (H * W)) % C, (e // W) % H, e % W] = (
            dy[n, c, h, w] if inside else dx.dtype.type(0))
        e += cuda.gridsize(1)


def channel_copy(small, big, off, into_big):
    """into_big: big[:, off:off + c, :] = small; else small = big[:, off:off + c, :]."""
    _channel_copy[grid(small.size)](small, big, off, bool(into_big))


def _as4(a):
    return a.reshape((1,) * (4 - a.ndim) + a.shape)


def _offsets4(offsets):
    return (0,) * (4 - len(offsets)) + tuple(int(o) for o in offsets)


def crop_forward(x, offsets, y):
    """y = x[o0:o0 + y.shape[0], ...] for arrays of up to 4 axes, one offset per axis."""
    _crop_forward[grid(y.size)](_as4(x), *_offsets4(offsets), _as4(y))


def crop_backward(dy, offsets, dx):
    """dx = 0, then dx[window] = dy (written whole)."""
    _crop_backward[grid(dx.size)](_as4(dy), *_offsets4(offsets), _as4(dx))
