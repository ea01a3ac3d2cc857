"""Resize (Interp, Upsample), MVN, LayerNorm and Normalize kernels against their CPU twins."""
import numpy as np
import pytest

from layerflow.kernels.cpu import interp as cint
from layerflow.kernels.cpu import layer_norm as cln
from layerflow.kernels.cpu import mvn as cmvn
from layerflow.kernels.cpu import normalize as cnorm
from layerflow.kernels.cuda import interp as gint
from layerflow.kernels.cuda import layer_norm as gln
from layerflow.kernels.cuda import mvn as gmvn
from layerflow.kernels.cuda import normalize as gnorm

from .util import DTYPES, dev, host, tol

pytestmark = pytest.mark.cuda


def _close(got, want, dtype, factor=4):
    t = tol(dtype)
    np.testing.assert_allclose(got, want, rtol=t["rtol"] * factor, atol=t["atol"] * factor)


def _tables(kind, n_in, n_out, dtype):
    t = (np.zeros(n_out, np.int64), np.zeros(n_out, np.int64), np.zeros(n_out, dtype),
         np.zeros(n_out, dtype))
    if kind == "align":
        cint.align_corners_table(n_in, n_out, 0, *t)
    elif kind == "half":
        cint.half_pixel_table(n_in, n_out, *t)
    else:
        cint.nearest_table(n_in, n_out, *t)
    return t


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,hw,out", [("align", (3, 4), (5, 7)), ("half", (3, 4), (6, 8)),
                                         ("nearest", (4, 3), (8, 6)), ("align", (5, 6), (3, 4))])
def test_resize(rng, kind, hw, out, dtype):
    x = rng.standard_normal((3,) + hw).astype(dtype)
    dy = rng.standard_normal((3,) + out).astype(dtype)
    tabs = _tables(kind, hw[0], out[0], dtype) + _tables(kind, hw[1], out[1], dtype)
    y, dx = np.zeros((3,) + out, dtype), np.zeros_like(x)
    cint.resize_forward(x, *tabs, y)
    cint.resize_backward(dy, *tabs, dx)
    gtabs = [dev(t) for t in tabs]
    gy, gdx = dev(np.zeros_like(y)), dev(np.full_like(x, np.nan))
    gint.resize_forward(dev(x), *gtabs, gy)
    gint.resize_backward(dev(dy), *gtabs, gdx)
    np.testing.assert_array_equal(host(gy), y)
    np.testing.assert_array_equal(host(gdx), dx)       # the CPU's order: the same bits


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variance", [True, False])
def test_mvn(rng, variance, dtype):
    x = (rng.standard_normal((37, 6)) * 2 + 1).astype(dtype)
    x[3] = 0.5                                         # a constant row: std 0
    dy = rng.standard_normal((37, 6)).astype(dtype)
    y, std, inv, dx = np.zeros_like(x), np.zeros(37, dtype), np.zeros(37, dtype), np.zeros_like(x)
    cmvn.mvn_forward(x, variance, 1e-9, y, std, inv)
    cmvn.mvn_backward(y, dy, variance, std, inv, dx)
    gy, gstd, ginv, gdx = (dev(np.zeros_like(a)) for a in (y, std, inv, dx))
    gmvn.mvn_forward(dev(x), variance, 1e-9, gy, gstd, ginv)
    gmvn.mvn_backward(gy, dev(dy), variance, gstd, ginv, gdx)
    _close(host(gy), y, dtype)
    if variance:
        _close(host(gstd), std, dtype)
        _close(host(ginv), inv, dtype, 100)            # 1 / (0 + 1e-9) on the constant row
    _close(host(gdx), dx, dtype, 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm(rng, affine, dtype):
    x = (rng.standard_normal((37, 5)) * 2 + 1).astype(dtype)
    dy = rng.standard_normal((37, 5)).astype(dtype)
    w, b = rng.standard_normal(5).astype(dtype), rng.standard_normal(5).astype(dtype)
    eps = dtype(1e-5)
    y, mean, rstd, dx = np.zeros_like(x), np.zeros(37, dtype), np.zeros(37, dtype), np.zeros_like(x)
    dw, db = np.full(5, 0.5, dtype), np.full(5, 0.5, dtype)
    cln.layer_norm_forward(x, w, b, affine, eps, y, mean, rstd)
    cln.layer_norm_backward(x, dy, w, affine, mean, rstd, True, dx, dw, db)
    gy, gmean, grstd, gdx = (dev(np.zeros_like(a)) for a in (y, mean, rstd, dx))
    gdw, gdb = dev(np.full(5, 0.5, dtype)), dev(np.full(5, 0.5, dtype))
    gln.layer_norm_forward(dev(x), dev(w), dev(b), affine, eps, gy, gmean, grstd)
    gln.layer_norm_backward(dev(x), dev(dy), dev(w), affine, gmean, grstd, True, gdx, gdw, gdb)
    for g, want in ((gy, y), (gmean, mean), (grstd, rstd), (gdx, dx), (gdw, dw), (gdb, db)):
        _close(host(g), want, dtype, 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("across,shared", [(True, True), (False, False), (False, True),
                                           (True, False)])
def test_normalize(rng, across, shared, dtype):
    n, c, s = 3, 4, 13
    x = rng.standard_normal((n, c, s)).astype(dtype)
    dy = rng.standard_normal((n, c, s)).astype(dtype)
    scale = rng.uniform(0.5, 2, 1 if shared else c).astype(dtype)
    norm = np.zeros(n if across else n * s, dtype)
    y, dx = np.zeros_like(x), np.zeros_like(x)
    dscale = np.full(scale.size, 0.5, dtype)
    cnorm.normalize_forward(x, scale, across, 1e-10, y, norm)
    cnorm.normalize_backward(x, dy, scale, across, norm, True, dx, dscale, np.zeros(s, dtype))
    gnorm_, gy, gdx = dev(np.zeros_like(norm)), dev(np.zeros_like(x)), dev(np.zeros_like(x))
    gds = dev(np.full(scale.size, 0.5, dtype))
    gnorm.normalize_forward(dev(x), dev(scale), across, 1e-10, gy, gnorm_)
    gnorm.normalize_backward(dev(x), dev(dy), dev(scale), across, gnorm_, True, gdx, gds,
                             dev(np.zeros(s, dtype)))
    for g, want in ((gnorm_, norm), (gy, y), (gdx, dx), (gds, dscale)):
        _close(host(g), want, dtype, 10)
