"""ArgMax, BatchReindex, Filter and ROIPooling kernels against their CPU twins: ties,
repeated and reordered indices, overlapping regions (their gradients add in the CPU's order:
the same bits), bad indices reported at the CPU's position."""
import numpy as np
import pytest

from layerflow.kernels.cpu import arg_max as cam
from layerflow.kernels.cpu import batch_reindex as cbr
from layerflow.kernels.cpu import filter as cfil
from layerflow.kernels.cpu import roi_pooling as croi
from layerflow.kernels.cuda import arg_max as gam
from layerflow.kernels.cuda import batch_reindex as gbr
from layerflow.kernels.cuda import filter as gfil
from layerflow.kernels.cuda import roi_pooling as groi

from .util import dev, host

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize("with_axis,out_max_val", [(True, False), (True, True),
                                                    (False, False), (False, True)])
def test_arg_max(rng, with_axis, out_max_val):
    shape = (3, 7, 5) if with_axis else (4, 9, 1)
    x = rng.integers(0, 4, shape).astype(np.float32)        # many ties
    k = 3
    out_shape = (shape[0], k, shape[2]) if with_axis else (shape[0], 2 if out_max_val else 1, k)
    want = np.zeros(out_shape, np.float32)
    cam.arg_max(x, k, out_max_val, with_axis, want)
    got = dev(np.zeros(out_shape, np.float32))
    gam.arg_max(dev(x), k, out_max_val, with_axis, got)
    np.testing.assert_array_equal(host(got), want)


def test_batch_reindex(rng):
    x = rng.standard_normal((4, 9)).astype(np.float32)
    index = np.array([3, 0, 3, 3, 1, 0, 3], np.float32)      # repeats; sample 2 unused
    dy = rng.standard_normal((7, 9)).astype(np.float32)
    y, dx = np.zeros((7, 9), np.float32), np.zeros_like(x)
    cbr.reindex_forward(x, index, y)
    cbr.reindex_backward(dy, index, dx)
    gy, gdx = dev(np.zeros_like(y)), dev(np.full_like(x, np.nan))
    gbr.reindex_forward(dev(x), dev(index), gy)
    gbr.reindex_backward(dev(dy), dev(index), gdx)
    np.testing.assert_array_equal(host(gy), y)
    np.testing.assert_array_equal(host(gdx), dx)
    assert gbr.first_bad_index(dev(index), 4) == -1
    index[4], index[6] = 4, 0.5
    assert gbr.first_bad_index(dev(index), 4) == cbr.first_bad_index(index, 4) == 4


def test_filter(rng):
    x = rng.standard_normal((6, 7)).astype(np.float32)
    rows = np.zeros(6, np.int64)
    kept = cfil.select_rows(np.array([0, 1, 1, 0, 0, 1], np.float32), rows)
    dy = rng.standard_normal((kept, 7)).astype(np.float32)
    y, dx = np.zeros((kept, 7), np.float32), np.zeros_like(x)
    cfil.filter_forward(x, rows, y)
    cfil.filter_backward(dy, rows, dx)
    gy, gdx = dev(np.zeros_like(y)), dev(np.full_like(x, np.nan))
    gfil.filter_forward(dev(x), dev(rows), gy)
    gfil.filter_backward(dev(dy), dev(rows), gdx)
    np.testing.assert_array_equal(host(gy), y)
    np.testing.assert_array_equal(host(gdx), dx)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_roi_pooling(rng, dtype):
    x = rng.standard_normal((2, 3, 6, 7)).astype(dtype)
    rois = np.array([[0, 0, 0, 13, 11], [1, 2, 3, 9, 9], [0, 4, 2, 6, 2],   # overlapping
                     [1, -4, -4, 30, 30], [0, 3, 3, 3, 3]], dtype)          # clipped; 1 pixel
    scale = dtype(0.5)
    shape = (5, 3, 2, 3)
    y, am = np.zeros(shape, dtype), np.zeros(shape, np.int64)
    assert croi.roi_pool_forward(x, rois, scale, y, am, np.zeros(1, dtype)) == -1
    gy, gam_ = dev(np.zeros(shape, dtype)), dev(np.zeros(shape, np.int64))
    assert groi.roi_pool_forward(dev(x), dev(rois), scale, gy, gam_, None) == -1
    np.testing.assert_array_equal(host(gy), y)
    np.testing.assert_array_equal(host(gam_), am)
    dy = rng.standard_normal(shape).astype(dtype)
    dx = np.zeros((2, 3, 42), dtype)
    croi.roi_pool_backward(dy, rois, am, dx)
    gdx = dev(np.full((2, 3, 42), np.nan, dtype))
    groi.roi_pool_backward(dev(dy), dev(rois), gam_, gdx)
    np.testing.assert_array_equal(host(gdx), dx)
    rois[2, 0], rois[4, 0] = 2, -1
    assert groi.roi_pool_forward(dev(x), dev(rois), scale, gy, gam_, None) == 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_roi_pooling_bins_in_data_dtype(rng, dtype):
    """29 rows in 7 bins: 7 * float32(29 / 7) is 29.0, in float64 29.000000000000004, and the
    last bin's end differs; the device computes the bins as the CPU twin does."""
    x = rng.standard_normal((1, 1, 30, 30)).astype(dtype)
    rois = np.array([[0, 0, 0, 28, 28]], dtype)
    y, am = np.zeros((1, 1, 7, 7), dtype), np.zeros((1, 1, 7, 7), np.int64)
    croi.roi_pool_forward(x, rois, dtype(1), y, am, np.zeros(1, dtype))
    gy, gam_ = dev(np.zeros_like(y)), dev(np.zeros_like(am))
    groi.roi_pool_forward(dev(x), dev(rois), dtype(1), gy, gam_, None)
    np.testing.assert_array_equal(host(gam_), am)
    np.testing.assert_array_equal(host(gy), y)
