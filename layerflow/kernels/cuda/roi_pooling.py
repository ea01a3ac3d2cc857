"""ROIPooling kernels (Fast R-CNN), the CUDA twins of kernels/cpu/roi_pooling.py: max over
the bins of each region, remembering where the maximum was; the gradient routed back there.

The bins are computed in the data's dtype, as Caffe's float (or double) arithmetic and the
CPU twin's `rounded` make them (a float32 product or quotient of float32 values equals the
float64 one rounded once). Forward: one thread per output (region, channel, bin). A region
whose batch index is not a sample is reported as on the CPU (the first such row, one number
read back) and its outputs are left alone. Backward: regions overlap, so without atomics one
thread per (sample, channel) plane adds the regions' bins in the CPU's order (the same bits)."""
import math

import numpy as np
from numba import cuda, float64, int64

from .launch import THREADS, grid, scratch, tree_min

_NONE = np.int64(1 << 62)      # "no bad region" in a min-reduction


@cuda.jit(device=True)
def c_round(v):
    """C's round: halves away from zero (in float64, as the CPU twin adds the half)."""
    v = float64(v)
    return math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5)


@cuda.jit
def _first_bad(rois, n, work):
    buf = cuda.shared.array(THREADS, int64)
    t = cuda.threadIdx.x
    bad = _NONE
    r = t
    while r < rois.shape[0]:
        b = int(rois[r, 0])
        if not (0 <= b and b < n):
            bad = min(bad, r)
        r += THREADS
    buf[t] = bad
    tree_min(buf, t)
    if t == 0:
        work[0] = -1 if buf[0] == _NONE else buf[0]


@cuda.jit
def _forward(x, rois, spatial_scale, y, argmax):
    n_, c_, h_, w_ = x.shape
    r_, _, ph_, pw_ = y.shape
    f = y.dtype.type
    e = cuda.grid(1)
    while e < y.size:
        r = e // (c_ * ph_ * pw_)
        c = (e // (ph_ * pw_)) % c_
        ph = (e // pw_) % ph_
        pw = e % pw_
        b = int(rois[r, 0])
        if 0 <= b and b < n_:
            x1 = int(c_round(rois[r, 1] * spatial_scale))
            y1 = int(c_round(rois[r, 2] * spatial_scale))
            x2 = int(c_round(rois[r, 3] * spatial_scale))
            y2 = int(c_round(rois[r, 4] * spatial_scale))
            bin_h = f(max(y2 - y1 + 1, 1)) / f(ph_)
            bin_w = f(max(x2 - x1 + 1, 1)) / f(pw_)
            hs = min(max(int(math.floor(f(ph) * bin_h)) + y1, 0), h_)
            he = min(max(int(math.ceil(f(ph + 1) * bin_h)) + y1, 0), h_)
            ws = min(max(int(math.floor(f(pw) * bin_w)) + x1, 0), w_)
            we = min(max(int(math.ceil(f(pw + 1) * bin_w)) + x1, 0), w_)
            if he <= hs or we <= ws:
                y[r, c, ph, pw] = 0
                argmax[r, c, ph, pw] = -1
            else:
                best = x[b, c, hs, ws]
                where = hs * w_ + ws
                for hh in range(hs, he):
                    for ww in range(ws, we):
                        v = x[b, c, hh, ww]
                        if v > best:
                            best = v
                            where = hh * w_ + ww
                y[r, c, ph, pw] = best
                argmax[r, c, ph, pw] = where
        e += cuda.gridsize(1)


@cuda.jit
def _backward(dy, rois, argmax, dx):
    n_, c_, hw = dx.shape
    r_, _, ph_, pw_ = dy.shape
    p = cuda.grid(1)
    while p < n_ * c_:
        b = p // c_
        c = p % c_
        for k in range(hw):
            dx[b, c, k] = 0
        for r in range(r_):
            if int(rois[r, 0]) == b:
                for ph in range(ph_):
                    for pw in range(pw_):
                        k = argmax[r, c, ph, pw]
                        if k >= 0:
                            dx[b, c, k] += dy[r, c, ph, pw]
        p += cuda.gridsize(1)


def roi_pool_forward(x, rois, spatial_scale, y, argmax, scratch_):
    """As the CPU twin (`scratch_`, its rounding buffer, is not needed here). Returns the
    first region whose batch index is not a sample of x, else -1."""
    work = scratch(1, np.int64)
    _first_bad[1, THREADS](rois, x.shape[0], work)
    bad = int(work.copy_to_host()[0])
    if bad < 0 and y.size:
        _forward[grid(y.size)](x, rois, y.dtype.type(spatial_scale), y, argmax)
    return bad


def roi_pool_backward(dy, rois, argmax, dx):
    """dx (N, C, H*W) written: zero, then each dy added at its bin's maximum."""
    _backward[grid(dx.shape[0] * dx.shape[1])](dy, rois, argmax, dx)
