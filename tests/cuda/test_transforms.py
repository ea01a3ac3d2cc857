"""The per-pixel data transform kernels against their CPU twins."""
import numpy as np
import pytest

from layerflow.kernels.cpu import transforms as ct
from layerflow.kernels.cuda import transforms as gt

from .util import dev, host

pytestmark = pytest.mark.cuda


def test_crop_mirror_means_scale(rng):
    src = rng.standard_normal((2, 3, 6, 7)).astype(np.float32)
    offsets = np.array([[1, 2], [0, 3]], np.int64)
    flips = np.array([1, 0], np.uint8)
    dst = np.empty((2, 3, 4, 4), np.float32)
    ct.crop_mirror(src, offsets, flips, dst)
    gdst = dev(np.zeros_like(dst))
    gt.crop_mirror(dev(src), dev(offsets), dev(flips), gdst)
    np.testing.assert_array_equal(host(gdst), dst)
    x, mean = dst.reshape(2, 3, 16).copy(), np.array([0.5, -1.0, 2.0], np.float32)
    gx = dev(x)
    ct.subtract_channel_mean(x, mean)
    gt.subtract_channel_mean(gx, dev(mean))
    np.testing.assert_array_equal(host(gx), x)
    x2, mimg = x.reshape(2, 48).copy(), rng.standard_normal(48).astype(np.float32)
    gx2 = dev(x2)
    ct.subtract_mean_image(x2, mimg)
    ct.scale_inplace(x2, np.float32(0.25))
    gt.subtract_mean_image(gx2, dev(mimg))
    gt.scale_inplace(gx2, np.float32(0.25))
    np.testing.assert_array_equal(host(gx2), x2)


def test_rotate_resized_crop(rng):
    src = rng.standard_normal((2, 2, 5, 6)).astype(np.float32)
    angles = np.array([30.0, -90.0], np.float32)
    dst = np.empty_like(src)
    ct.rotate_bilinear(src, angles, dst)
    gdst = dev(np.zeros_like(src))
    gt.rotate_bilinear(dev(src), dev(angles), gdst)
    np.testing.assert_allclose(host(gdst), dst, rtol=1e-5, atol=1e-6)
    boxes = np.array([[0.5, 1.0, 3.5, 4.0], [0.0, 0.0, 5.0, 6.0]], np.float32)
    out = np.empty((2, 2, 3, 4), np.float32)
    ct.resized_crop_bilinear(src, boxes, out)
    gout = dev(np.zeros_like(out))
    gt.resized_crop_bilinear(dev(src), dev(boxes), gout)
    np.testing.assert_allclose(host(gout), out, rtol=1e-5, atol=1e-6)


def test_color_jitter(rng):
    x = rng.random((2, 3, 37)).astype(np.float32)
    factors = np.array([[1.2, 0.8, 1.5], [0.9, 1.1, 1.0]], np.float32)
    gx = dev(x)
    ct.color_jitter(x, factors)
    gt.color_jitter(gx, dev(factors))
    np.testing.assert_allclose(host(gx), x, rtol=1e-5, atol=1e-6)
