import math

import numpy as np
import pytest

from layerflow.layer import ShapeError

from .harness import DTYPES, backward, check_gradient, forward, make_layer

RNG = np.random.default_rng(0)
ROIS = np.array([[0, 0, 0, 15, 15], [1, 4, 2, 9, 13], [1, 7, 7, 7, 7], [0, -8, 4, 40, 9],
                 [0, 2, 3, 1, 2]], float)


def c_round(v):
    return math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5)


def reference(x, rois, ph_, pw_, scale, dy):
    """A plain loop over Fast R-CNN's definition: the output, and dx for top diff dy. The
    arithmetic runs in x's dtype, as Caffe's runs in its Dtype."""
    _, c_, h_, w_ = x.shape
    t = x.dtype.type
    out = np.zeros((len(rois), c_, ph_, pw_))
    dx = np.zeros(x.shape)
    for r, (b, x1, y1, x2, y2) in enumerate(rois):
        x1, y1, x2, y2 = (c_round(t(v) * t(scale)) for v in (x1, y1, x2, y2))
        bh, bw = t(max(y2 - y1 + 1, 1)) / t(ph_), t(max(x2 - x1 + 1, 1)) / t(pw_)
        for i in range(ph_):
            hs = min(max(math.floor(t(i) * bh) + y1, 0), h_)
            he = min(max(math.ceil(t(i + 1) * bh) + y1, 0), h_)
            for j in range(pw_):
                ws = min(max(math.floor(t(j) * bw) + x1, 0), w_)
                we = min(max(math.ceil(t(j + 1) * bw) + x1, 0), w_)
                for c in range(c_ if he > hs and we > ws else 0):
                    window = x[int(b), c, hs:he, ws:we]
                    out[r, c, i, j] = window.max()
                    h, w = np.unravel_index(np.argmax(window), window.shape)
                    dx[int(b), c, hs + h, ws + w] += dy[r, c, i, j]
    return out, dx


def features(dtype=np.float64):
    """Distinct values, so that every maximum is unique (the gradient is defined)."""
    return (RNG.permutation(2 * 3 * 8 * 8).reshape(2, 3, 8, 8) * 0.01).astype(dtype)


def test_roi_pooling_gradient():
    layer, bottom, top = make_layer("ROIPooling", {"pooled_h": 3, "pooled_w": 2,
                                                   "spatial_scale": 0.5}, [features(), ROIS])
    check_gradient(layer, bottom, top, check_bottom=[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ph,pw,scale", [(2, 2, 0.5), (3, 4, 1.0), (7, 7, 0.25)])
def test_roi_pooling_matches_loop_reference(dtype, ph, pw, scale):
    x = features(dtype)
    layer, bottom, top = make_layer("ROIPooling", {"pooled_h": ph, "pooled_w": pw,
                                                   "spatial_scale": scale},
                                    [x, ROIS.astype(dtype)], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    dy = RNG.normal(size=y.shape).astype(dtype)
    (dx, _), _ = backward(layer, bottom, top, [dy])
    y_ref, dx_ref = reference(x, ROIS, ph, pw, scale, dy)
    assert (y_ref == 0).any()                          # an empty bin is among the cases
    np.testing.assert_array_equal(y, y_ref.astype(dtype))
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype,last_bin", [(np.float32, 0.0), (np.float64, 5.0)])
def test_roi_pooling_bins_follow_the_dtype_like_caffe(dtype, last_bin):
    """A 29-row region in 7 bins: 7 * float32(29 / 7) is 29.0, but 7 * (29 / 7) is
    29.000000000000004 in float64, so only the double net's last bin reaches row 29."""
    x = np.zeros((1, 1, 32, 8), dtype)
    x[0, 0, 29] = 5
    layer, bottom, top = make_layer("ROIPooling", {"pooled_h": 7, "pooled_w": 1},
                                    [x, np.array([[0, 0, 0, 7, 28]], dtype)], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    assert y[0, 0, -1, 0] == last_bin


def test_roi_pooling_bad_batch_index():
    layer, bottom, top = make_layer("ROIPooling", {"pooled_h": 2, "pooled_w": 2},
                                    [features(), np.array([[2.0, 0, 0, 3, 3]])])
    with pytest.raises(ShapeError, match=r"row 0 names batch index 2.0.*N = 2"):
        forward(layer, bottom, top)
