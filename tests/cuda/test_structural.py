"""Permute, Reduction, Axpy, Embed and Tile kernels against their CPU twins, on shapes
whose element counts are not multiples of the simulator's block."""
import numpy as np
import pytest

from layerflow.kernels.cpu import axpy as caxpy
from layerflow.kernels.cpu import embed as cembed
from layerflow.kernels.cpu import permute as cperm
from layerflow.kernels.cpu import reduction as cred
from layerflow.kernels.cpu import tile as ctile
from layerflow.kernels.cuda import axpy as gaxpy
from layerflow.kernels.cuda import embed as gembed
from layerflow.kernels.cuda import permute as gperm
from layerflow.kernels.cuda import reduction as gred
from layerflow.kernels.cuda import tile as gtile

from .util import DTYPES, dev, host, tol

pytestmark = pytest.mark.cuda


def _close(got, want, dtype, factor=4):
    t = tol(dtype)
    np.testing.assert_allclose(got, want, rtol=t["rtol"] * factor, atol=t["atol"] * factor)


@pytest.mark.parametrize("shape,order", [((2, 3, 4, 5), (0, 2, 3, 1)), ((3, 7), (1, 0)),
                                         ((2, 3, 5), (2, 0, 1)), ((37,), (0,))])
def test_permute(rng, shape, order):
    x = rng.standard_normal(shape).astype(np.float32)
    want = np.zeros(x.transpose(order).shape, np.float32)
    cperm.permute(x, order, want)
    got = dev(np.zeros_like(want))
    gperm.permute(dev(x), order, got)
    np.testing.assert_array_equal(host(got), x.transpose(order))
    np.testing.assert_array_equal(want, x.transpose(order))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", [0, 1, 2, 3])
def test_reduction(rng, op, dtype):
    x = rng.standard_normal((37, 5)).astype(dtype)
    x[0, 0] = 0
    dy = rng.standard_normal(37).astype(dtype)
    coeff = dtype(0.2 if op == 3 else 1.5)
    y, dx = np.zeros(37, dtype), np.zeros_like(x)
    cred.reduction_forward(x, op, coeff, y)
    cred.reduction_backward(x, dy, op, coeff, dx)
    gy, gdx = dev(np.zeros(37, dtype)), dev(np.zeros_like(x))
    gred.reduction_forward(dev(x), op, coeff, gy)
    gred.reduction_backward(dev(x), dev(dy), op, coeff, gdx)
    _close(host(gy), y, dtype)
    np.testing.assert_array_equal(host(gdx), dx)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("want", [(True, True, True), (False, True, False), (True, False, True)])
def test_axpy(rng, want, dtype):
    a = rng.standard_normal(6).astype(dtype)
    x, y, dtop = (rng.standard_normal((6, 7)).astype(dtype) for _ in range(3))
    out = np.zeros_like(x)
    caxpy.axpy_forward(a, x, y, out)
    gout = dev(np.zeros_like(x))
    gaxpy.axpy_forward(dev(a), dev(x), dev(y), gout)
    np.testing.assert_array_equal(host(gout), out)
    da, dx, dy = np.full_like(a, 9), np.full_like(x, 9), np.full_like(x, 9)
    caxpy.axpy_backward(a, x, dtop, da, dx, dy, *want)
    gda, gdx, gdy = dev(np.full_like(a, 9)), dev(np.full_like(x, 9)), dev(np.full_like(x, 9))
    gaxpy.axpy_backward(dev(a), dev(x), dev(dtop), gda, gdx, gdy, *want)
    _close(host(gda), da, dtype)
    np.testing.assert_array_equal(host(gdx), dx)
    np.testing.assert_array_equal(host(gdy), dy)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("has_bias", [True, False])
def test_embed(rng, has_bias, dtype):
    index = rng.integers(0, 5, 11).astype(dtype)
    index[:4] = 3                                    # repeated rows add up in order
    weight = rng.standard_normal((5, 7)).astype(dtype)
    bias = rng.standard_normal(7).astype(dtype)
    dy = rng.standard_normal((11, 7)).astype(dtype)
    assert gembed.first_bad_index(dev(index), 5) == cembed.first_bad_index(index, 5) == -1
    y = np.zeros((11, 7), dtype)
    cembed.embed_forward(index, weight, bias, has_bias, y)
    gy = dev(np.zeros((11, 7), dtype))
    gembed.embed_forward(dev(index), dev(weight), dev(bias), has_bias, gy)
    np.testing.assert_array_equal(host(gy), y)
    dw, db = np.full_like(weight, 0.5), np.full_like(bias, 0.5)
    cembed.embed_backward(index, dy, dw, db, has_bias)
    gdw, gdb = dev(np.full_like(weight, 0.5)), dev(np.full_like(bias, 0.5))
    gembed.embed_backward(dev(index), dev(dy), gdw, gdb, has_bias)
    np.testing.assert_array_equal(host(gdw), dw)
    np.testing.assert_array_equal(host(gdb), db)
    bad = np.arange(40, dtype=dtype) % 5
    bad[33], bad[37] = 2.5, 5                        # the first bad position is reported
    assert gembed.first_bad_index(dev(bad), 5) == cembed.first_bad_index(bad, 5) == 33


@pytest.mark.parametrize("dtype", DTYPES)
def test_tile_backward(rng, dtype):
    dy = rng.standard_normal((3, 4, 13)).astype(dtype)
    dx = np.zeros((3, 13), dtype)
    ctile.tile_backward(dy, dx)
    gdx = dev(np.zeros((3, 13), dtype))
    gtile.tile_backward(dev(dy), gdx)
    np.testing.assert_array_equal(host(gdx), dx)
