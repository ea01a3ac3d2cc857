"""Concat/Slice/Crop block copies against numpy slicing (their CPU layers' way), and the
EuclideanLoss and Split kernels against their CPU twins."""
import numpy as np
import pytest

from layerflow.kernels.cpu import copy as ccopy
from layerflow.kernels.cpu import euclidean_loss as ceu
from layerflow.kernels.cpu import split as csp
from layerflow.kernels.cuda import copy as gcopy
from layerflow.kernels.cuda import euclidean_loss as geu
from layerflow.kernels.cuda import split as gsp

from .util import dev, host

pytestmark = pytest.mark.cuda


def test_channel_copy(rng):
    big = rng.standard_normal((2, 7, 5))
    small = rng.standard_normal((2, 3, 5))
    gbig = dev(big)
    gcopy.channel_copy(dev(small), gbig, 2, True)
    want = big.copy()
    want[:, 2:5, :] = small
    np.testing.assert_array_equal(host(gbig), want)
    gsmall = dev(np.zeros_like(small))
    gcopy.channel_copy(gsmall, dev(big), 4, False)
    np.testing.assert_array_equal(host(gsmall), big[:, 4:7, :])
    cbig, csmall = big.copy(), np.zeros_like(small)          # the host twin
    ccopy.channel_copy(small, cbig, 2, True)
    ccopy.channel_copy(csmall, big, 4, False)
    np.testing.assert_array_equal(cbig, want)
    np.testing.assert_array_equal(csmall, big[:, 4:7, :])


@pytest.mark.parametrize("xshape,yshape,offsets", [
    ((2, 3, 6, 5), (2, 3, 3, 4), (0, 0, 2, 1)),
    ((5, 7), (3, 4), (1, 2)),
])
def test_crop(rng, xshape, yshape, offsets):
    x = rng.standard_normal(xshape).astype(np.float32)
    dy = rng.standard_normal(yshape).astype(np.float32)
    index = tuple(slice(o, o + s) for o, s in zip(offsets, yshape))
    gy = dev(np.zeros(yshape, np.float32))
    gcopy.crop_forward(dev(x), offsets, gy)
    np.testing.assert_array_equal(host(gy), x[index])
    gdx = dev(np.full(xshape, np.nan, np.float32))
    gcopy.crop_backward(dev(dy), offsets, gdx)
    want = np.zeros(xshape, np.float32)
    want[index] = dy
    np.testing.assert_array_equal(host(gdx), want)
    cy, cdx = np.zeros(yshape, np.float32), np.full(xshape, np.nan, np.float32)
    ccopy.crop_forward(x, offsets, cy)
    ccopy.crop_backward(dy, offsets, cdx)
    np.testing.assert_array_equal(cy, x[index])
    np.testing.assert_array_equal(cdx, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_euclidean_and_split(rng, dtype):
    a, b = (rng.standard_normal(37).astype(dtype) for _ in range(2))
    d = np.empty_like(a)
    total = ceu.euclidean_diff(a, b, d)
    gd = dev(np.zeros_like(a))
    gtotal = geu.euclidean_diff(dev(a), dev(b), gd)
    np.testing.assert_allclose(gtotal, total, rtol=1e-6 if dtype == np.float32 else 1e-12)
    np.testing.assert_array_equal(host(gd), d)
    out = np.empty_like(a)
    ceu.scaled_copy(d, 0.3, out)
    gout = dev(np.zeros_like(a))
    geu.scaled_copy(gd, 0.3, gout)
    np.testing.assert_array_equal(host(gout), out)
    csp.sum_into(a, b, out)
    gsp.sum_into(dev(a), dev(b), gout)
    np.testing.assert_array_equal(host(gout), out)
