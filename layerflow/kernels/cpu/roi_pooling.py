"""ROIPooling kernels (Fast R-CNN): max over the bins of each region, remembering where the
maximum was, and the gradient routed back to those positions."""
import math

from numba import njit


@njit(cache=True)
def c_round(v):
    """C's round: halves away from zero (Python's round goes to even)."""
    return math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5)


@njit(cache=True)
def rounded(scratch, v):
    """v rounded to the data's dtype (scratch is a 1-element array of it). A product or
    quotient of two such values, computed in float64 and rounded once, equals the one
    computed in float32, so the bins come out as Caffe's float32 (or double) arithmetic
    makes them: 7 * float32(29 / 7) is 29.0, 7 * (29 / 7) in float64 is 29.000000000000004,
    and the last bin's ceil differs."""
    scratch[0] = v
    return scratch[0]


@njit(cache=True)
def roi_pool_forward(x, rois, spatial_scale, y, argmax, scratch):
    """x: (N, C, H, W); rois: (R, 5) rows [batch, x1, y1, x2, y2]; y, argmax: (R, C, PH, PW);
    spatial_scale in the data's dtype; scratch: 1 element of it. Returns the first region
    whose batch index is not a sample of x, else -1. A bin that covers no pixel gives 0 and
    argmax -1."""
    n_, c_, h_, w_ = x.shape
    r_, _, ph_, pw_ = y.shape
    for r in range(r_):
        b = int(rois[r, 0])
        if not (0 <= b < n_):
            return r
        x1 = int(c_round(rounded(scratch, rois[r, 1] * spatial_scale)))
        y1 = int(c_round(rounded(scratch, rois[r, 2] * spatial_scale)))
        x2 = int(c_round(rounded(scratch, rois[r, 3] * spatial_scale)))
        y2 = int(c_round(rounded(scratch, rois[r, 4] * spatial_scale)))
        bin_h = rounded(scratch, max(y2 - y1 + 1, 1) / ph_)
        bin_w = rounded(scratch, max(x2 - x1 + 1, 1) / pw_)
        for ph in range(ph_):
            hs = min(max(math.floor(rounded(scratch, ph * bin_h)) + y1, 0), h_)
            he = min(max(math.ceil(rounded(scratch, (ph + 1) * bin_h)) + y1, 0), h_)
            for pw in range(pw_):
                ws = min(max(math.floor(rounded(scratch, pw * bin_w)) + x1, 0), w_)
                we = min(max(math.ceil(rounded(scratch, (pw + 1) * bin_w)) + x1, 0), w_)
                for c in range(c_):
                    if he <= hs or we <= ws:
                        y[r, c, ph, pw] = 0
                        argmax[r, c, ph, pw] = -1
                        continue
                    best = x[b, c, hs, ws]
                    where = hs * w_ + ws
                    for h in range(hs, he):
                        for w in range(ws, we):
                            v = x[b, c, h, w]
                            if v > best:
                                best = v
                                where = h * w_ + w
                    y[r, c, ph, pw] = best
                    argmax[r, c, ph, pw] = where
    return -1


@njit(cache=True)
def roi_pool_backward(dy, rois, argmax, dx):
    """dx (N, C, H*W) written: zero, then each dy added at its bin's maximum (serial:
    regions overlap)."""
    dx[...] = 0
    r_, c_, ph_, pw_ = dy.shape
    for r in range(r_):
        b = int(rois[r, 0])
        for c in range(c_):
            for ph in range(ph_):
                for pw in range(pw_):
                    k = argmax[r, c, ph, pw]
                    if k >= 0:
                        dx[b, c, k] += dy[r, c, ph, pw]
