"""Resize kernels driven by per-axis tables, the CUDA twins of kernels/cpu/interp.py's
resize_forward / resize_backward (Interp and Upsample; the tables are made on the host
once per shape, kernels/cpu/interp.py, and go up once).

Forward: one thread per output, the four taps gathered. Backward scatters each dy through
its four taps, which overlap between outputs; without atomics, one thread per (R) plane runs
the CPU loop for its plane (the same order, the same bits), so the parallelism is the
planes (N * C): enough for a segmentation head, not for one huge plane."""
from numba import cuda

from .launch import grid


@cuda.jit
def _forward(x, hi0, hi1, hw0, hw1, wi0, wi1, ww0, ww1, out):
    rows, h2, w2 = out.shape
    e = cuda.grid(1)
    while e < out.size:
        c = e // (h2 * w2)
        r = (e // w2) % h2
        s = e % w2
        a0, a1, u0, u1 = hi0[r], hi1[r], hw0[r], hw1[r]
        b0, b1, v0, v1 = wi0[s], wi1[s], ww0[s], ww1[s]
        out[c, r, s] = (u0 * (v0 * x[c, a0, b0] + v1 * x[c, a0, b1])
                        + u1 * (v0 * x[c, a1, b0] + v1 * x[c, a1, b1]))
        e += cuda.gridsize(1)


@cuda.jit
def _backward(dy, hi0, hi1, hw0, hw1, wi0, wi1, ww0, ww1, dx):
    rows, h2, w2 = dy.shape
    _, h, w = dx.shape
    c = cuda.grid(1)
    while c < rows:
        for i in range(h):
            for j in range(w):
                dx[c, i, j] = 0
        for r in range(h2):
            a0, a1, u0, u1 = hi0[r], hi1[r], hw0[r], hw1[r]
            for s in range(w2):
                g = dy[c, r, s]
                b0, b1, v0, v1 = wi0[s], wi1[s], ww0[s], ww1[s]
                dx[c, a0, b0] += u0 * v0 * g
                dx[c, a0, b1] += u0 * v1 * g
                dx[c, a1, b0] += u1 * v0 * g
                dx[c, a1, b1] += u1 * v1 * g
        c += cuda.gridsize(1)


def resize_forward(x, hi0, hi1, hw0, hw1, wi0, wi1, ww0, ww1, out):
    """x: (R, H, W), out: (R, H2, W2); the tables as kernels/cpu/interp.py makes them."""
    _forward[grid(out.size)](x, hi0, hi1, hw0, hw1, wi0, wi1, ww0, ww1, out)


def resize_backward(dy, hi0, hi1, hw0, hw1, wi0, wi1, ww0, ww1, dx):
    """dx (R, H, W) written: zero, then each dy spread over its four taps."""
    _backward[grid(dy.shape[0])](dy, hi0, hi1, hw0, hw1, wi0, wi1, ww0, ww1, dx)
