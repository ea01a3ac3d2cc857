"""BatchNorm and LRN kernels against their CPU twins."""
import numpy as np
import pytest

from layerflow.kernels.cpu import batch_norm as cbn
from layerflow.kernels.cpu import lrn as clrn
from layerflow.kernels.cuda import batch_norm as gbn
from layerflow.kernels.cuda import lrn as glrn

from .util import DTYPES, dev, host

pytestmark = pytest.mark.cuda


def _tol(dtype):
    return dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 2, 13), (37, 3, 1)])
def test_batch_norm(rng, shape, dtype):
    C = shape[1]
    x = (rng.standard_normal(shape) * 3 + 5).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    mean, var, inv = np.empty(C, dtype), np.empty(C, dtype), np.empty(C, dtype)
    y, xn, dx = np.empty_like(x), np.empty_like(x), np.empty_like(x)
    cbn.channel_mean_var(x, mean, var)
    cbn.inv_std_of(var, 1e-5, inv)
    cbn.normalize_save(x, mean, inv, y, xn)
    cbn.batch_norm_backward(xn, dy, inv, dx)
    rm, rv, rf = np.ones(C, dtype), np.ones(C, dtype), np.ones(1, dtype)
    cbn.update_running(mean, var, shape[0] * shape[2], 0.9, rm, rv, rf)
    gm, giv = np.empty(C, dtype), np.empty(C, dtype)
    cbn.global_stats(rm, rv, rf, 1e-5, gm, giv)
    sdx = np.empty_like(x)
    cbn.scale_by_channel(dy, giv, sdx)

    d = {k: dev(np.zeros_like(v)) for k, v in dict(mean=mean, var=var, inv=inv, y=y, xn=xn,
                                                   gm=gm, giv=giv, sdx=sdx).items()}
    gx = dev(x)
    gbn.channel_mean_var(gx, d["mean"], d["var"])
    gbn.inv_std_of(d["var"], 1e-5, d["inv"])
    gbn.normalize_save(gx, d["mean"], d["inv"], d["y"], d["xn"])
    gd = dev(dy)
    gbn.batch_norm_backward_inplace(d["xn"], gd, d["inv"])
    grm, grv, grf = dev(np.ones(C, dtype)), dev(np.ones(C, dtype)), dev(np.ones(1, dtype))
    gbn.update_running(d["mean"], d["var"], shape[0] * shape[2], 0.9, grm, grv, grf)
    gbn.global_stats(grm, grv, grf, 1e-5, d["gm"], d["giv"])
    gbn.scale_by_channel(dev(dy), d["giv"], d["sdx"])
    for name, want in dict(mean=mean, var=var, inv=inv, y=y, xn=xn, gm=gm, giv=giv,
                           sdx=sdx).items():
        np.testing.assert_allclose(host(d[name]), want, **_tol(dtype), err_msg=name)
    np.testing.assert_allclose(host(gd), dx, **_tol(dtype))
    for got, want in ((grm, rm), (grv, rv), (grf, rf)):
        np.testing.assert_allclose(host(got), want, **_tol(dtype))
    gy2 = dev(x)                                        # the in-place forms
    gbn.normalize_inplace(gy2, d["mean"], d["inv"])
    np.testing.assert_allclose(host(gy2), y, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta", [0.75, 0.6])
def test_lrn_across(rng, dtype, beta):
    shape, size, alpha, k = (2, 5, 6), 3, 0.3, 2.0
    t = np.dtype(dtype).type
    x, dy = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    scale, pw, y, ratio, dx = (np.empty_like(x) for _ in range(5))
    args = (size, t(alpha / size), t(beta), t(k), t(1))
    clrn.lrn_across_forward(x, *args, scale, pw, y)
    coef = t(2 * alpha * beta / size)
    clrn.lrn_across_backward(x, dy, scale, pw, size, coef, ratio, dx)
    g = [dev(np.zeros_like(x)) for _ in range(5)]
    gx, gdy = dev(x), dev(dy)
    glrn.lrn_across_forward(gx, *args, g[0], g[1], g[2])
    glrn.lrn_across_backward(gx, gdy, g[0], g[1], size, coef, g[3], g[4])
    for got, want in zip(g[:3] + g[4:], (scale, pw, y, dx)):
        np.testing.assert_allclose(host(got), want, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_lrn_within(rng, dtype):
    shape, size, alpha, beta = (2, 5, 4), 3, 0.3, 0.75
    t = np.dtype(dtype).type
    x, dy = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    scale, pw, y, ratio, rows, dx = (np.empty_like(x) for _ in range(6))
    args = (size, t(alpha / size ** 2), t(beta), t(1))
    clrn.lrn_within_forward(x, *args, rows, scale, pw, y)
    coef = t(2 * alpha * beta / size ** 2)
    clrn.lrn_within_backward(x, dy, scale, pw, size, coef, ratio, rows, dx)
    g = [dev(np.zeros_like(x)) for _ in range(5)]
    gx, gdy = dev(x), dev(dy)
    glrn.lrn_within_forward(gx, *args, None, g[0], g[1], g[2])
    glrn.lrn_within_backward(gx, gdy, g[0], g[1], size, coef, g[3], None, g[4])
    for got, want in zip(g[:3] + g[4:], (scale, pw, y, dx)):
        np.testing.assert_allclose(host(got), want, **_tol(dtype))
