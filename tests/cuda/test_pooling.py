"""MAX and AVE pooling kernels against their CPU twins, with Caffe's ceil rounding, padding,
overlapping windows and a last window that holds no pixel."""
import math

import numpy as np
import pytest

from layerflow.kernels.cpu import pooling as cpool
from layerflow.kernels.cuda import pooling as gpool

from .util import DTYPES, dev, host, tol

pytestmark = pytest.mark.cuda

# (N, C, H, W, kh, kw, sh, sw, ph, pw)
GEOMS = [
    (2, 2, 5, 6, 3, 3, 2, 2, 1, 1),      # overlapping, padded
    (1, 2, 5, 7, 2, 2, 2, 2, 0, 0),      # ceil rounding: a clipped last window
    (1, 1, 5, 5, 1, 1, 3, 3, 0, 0),      # ceil rounding: a last window with no pixel
    (1, 3, 4, 3, 3, 2, 1, 1, 1, 0),      # stride 1, one-sided pad
]


def _out(size, k, s, p, other):
    out = int(math.ceil((size + 2 * p - k) / s)) + 1
    if (p > 0 or other > 0) and (out - 1) * s >= size + p:
        out -= 1
    return out


def _setup(rng, geom, dtype):
    N, C, H, W, kh, kw, sh, sw, ph, pw = geom
    oh, ow = _out(H, kh, sh, ph, pw), _out(W, kw, sw, pw, ph)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    x[0, 0, 1, :2] = x[0, 0, 0, 0]                     # ties: the first one wins
    dy = rng.standard_normal((N, C, oh, ow)).astype(dtype)
    return x, dy, (kh, kw, sh, sw, ph, pw), (H, W, kh, kw, sh, sw, ph, pw, oh, ow)


@pytest.mark.parametrize("geom", GEOMS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool(rng, geom, dtype):
    x, dy, g, plan_args = _setup(rng, geom, dtype)
    y, mask, dx = np.empty_like(dy), np.empty(dy.shape, np.int32), np.empty_like(x)
    cpool.max_pool_forward(x, *g, y, mask, *cpool.max_pool_plan(*plan_args, dtype, 1))
    cpool.max_pool_backward(dy, mask, dx)
    gy, gmask = dev(np.zeros_like(y)), dev(np.zeros_like(mask))
    gdx, gmf = dev(np.full_like(x, np.nan)), dev(np.zeros_like(y))
    gpool.max_pool_forward(dev(x), *g, gy, gmask)
    gpool.max_pool_backward(dev(dy), gmask, gdx)
    gpool.mask_to_float(gmask, gmf)
    np.testing.assert_array_equal(host(gy), y)
    np.testing.assert_array_equal(host(gmask), mask)
    np.testing.assert_array_equal(host(gmf), mask.astype(dtype))
    np.testing.assert_array_equal(host(gdx), dx)
    if geom[4] == 1 and geom[6] == 3:
        assert (mask == -1).any()                      # the no-pixel window was there


@pytest.mark.parametrize("geom", GEOMS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_ave_pool(rng, geom, dtype):
    x, dy, g, plan_args = _setup(rng, geom, dtype)
    y, dx = np.empty_like(dy), np.empty_like(x)
    plan = cpool.ave_pool_plan(*plan_args, dtype, 1)
    cpool.ave_pool_forward(x, *g, y, *plan)
    cpool.ave_pool_backward(dy, *g, dx, *plan)
    gy, gdx = dev(np.zeros_like(y)), dev(np.full_like(x, np.nan))
    gpool.ave_pool_forward(dev(x), *g, gy)
    gpool.ave_pool_backward(dev(dy), *g, gdx)
    np.testing.assert_allclose(host(gy), y, **tol(dtype))
    np.testing.assert_allclose(host(gdx), dx, **tol(dtype))
