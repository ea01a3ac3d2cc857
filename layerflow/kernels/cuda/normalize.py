"""Normalize kernels (SSD's L2 normalization) on an (N, C, S) device array, the CUDA twins
of kernels/cpu/normalize.py: across_spatial, one norm per sample, sqrt(sum_{c,s} x^2 + eps);
else one per (sample, position), sqrt(sum_c x^2 + eps); y = x / norm * scale[c] (scale has
1 or C values). Backward, with u = x / norm and g = dy scale: dscale += sum dy u and
dx = (g - u sum(g u)) / norm over the normalized group.

One thread per group (a sample, or a sample's position: SSD's conv4_3 case, N * H * W
threads) computes its norm and writes its outputs; the scale gradient runs in one block,
a thread per channel adding the samples in the CPU's order (no atomics). The CPU's `dot`
scratch is not used: each thread keeps its sums in registers."""
import math

from numba import cuda, float64

from .launch import THREADS, grid, tree_sum


@cuda.jit
def _forward(x, scale, across_spatial, eps, y, norm):
    n_, c_, s_ = x.shape
    shared = scale.size == 1
    groups = n_ if across_spatial else n_ * s_
    q = cuda.grid(1)
    while q < groups:
        n = q if across_spatial else q // s_
        s0 = 0 if across_spatial else q % s_
        s1 = s_ if across_spatial else s0 + 1
        if across_spatial:
            acc = float64(0)
            for c in range(c_):
                for s in range(s0, s1):
                    acc += x[n, c, s] * x[n, c, s]
            norm[q] = math.sqrt(acc + eps)
        else:                               # the CPU's sum in the data's dtype
            a = norm.dtype.type(eps)
            for c in range(c_):
                a += x[n, c, s0] * x[n, c, s0]
            norm[q] = math.sqrt(a)
        d = norm[q]
        for c in range(c_):
            k = scale[0] if shared else scale[c]
            for s in range(s0, s1):
                y[n, c, s] = x[n, c, s] / d * k
        q += cuda.gridsize(1)


@cuda.jit
def _scale_grad(x, dy, shared, across_spatial, norm, dscale):
    buf = cuda.shared.array(THREADS, float64)
    n_, c_, s_ = x.shape
    t = cuda.threadIdx.x
    total = float64(0)
    c = t
    while c < c_:
        for n in range(n_):
            acc = float64(0)
            for s in range(s_):
                d = norm[n] if across_spatial else norm[n * s_ + s]
                acc += dy[n, c, s] * x[n, c, s] / d
            if shared:
                total += acc
            else:
                dscale[c] += acc
        c += THREADS
    if shared:
        buf[t] = total
        tree_sum(buf, t)
        if t == 0:
            dscale[0] += buf[0]


@cuda.jit
def _data_grad(x, dy, scale, across_spatial, norm, dx):
    n_, c_, s_ = x.shape
    shared = scale.size == 1
    groups = n_ if across_spatial else n_ * s_
    q = cuda.grid(1)
    while q < groups:
        n = q if across_spatial else q // s_
        s0 = 0 if across_spatial else q % s_
        s1 = s_ if across_spatial else s0 + 1
        d = norm[q]
        dot = float64(0)
        for c in range(c_):
            k = scale[0] if shared else scale[c]
            for s in range(s0, s1):
                dot += dy[n, c, s] * k * x[n, c, s] / d
        for c in range(c_):
            k = scale[0] if shared else scale[c]
            for s in range(s0, s1):
                dx[n, c, s] = (dy[n, c, s] * k - x[n, c, s] / d * dot) / d
        q += cuda.gridsize(1)


def normalize_forward(x, scale, across_spatial, eps, y, norm):
    """norm: (N,) or (N * S,), kept for the backward."""
    groups = x.shape[0] if across_spatial else x.shape[0] * x.shape[2]
    _forward[grid(groups)](x, scale, bool(across_spatial), float64(eps), y, norm)


def normalize_backward(x, dy, scale, across_spatial, norm, want_x, dx, dscale, dot):
    """dscale added into; dx written when `want_x`; `dot` (the CPU's scratch) unused."""
    _scale_grad[1, THREADS](x, dy, scale.size == 1, bool(across_spatial), norm, dscale)
    if want_x:
        groups = x.shape[0] if across_spatial else x.shape[0] * x.shape[2]
        _data_grad[grid(groups)](x, dy, scale, bool(across_spatial), norm, dx)
