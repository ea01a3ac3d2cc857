"""The direct convolution kernels against the CPU's im2col and numpy products."""
import numpy as np
import pytest

from layerflow.kernels.cpu import im2col as cim
from layerflow.kernels.cuda import direct_conv as gdc

from .util import DTYPES, dev, host

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize("dtype,geom", [
    (DTYPES[0], (2, 1, 6, 5, 3, 3, 1, 1, 0, 0, 1, 1)),     # LeNet's conv1 in small
    (DTYPES[1], (1, 2, 5, 6, 3, 2, 2, 1, 1, 1, 1, 2)),     # stride, pad, dilation
])
def test_direct_conv(rng, dtype, geom):
    N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw = geom
    M = 3
    oh = (H + 2 * ph - (dh * (kh - 1) + 1)) // sh + 1
    ow = (W + 2 * pw - (dw * (kw - 1) + 1)) // sw + 1
    P, R = oh * ow, C * kh * kw
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((M, C, kh, kw)).astype(dtype)
    b = rng.standard_normal(M).astype(dtype)
    dy = rng.standard_normal((N, M, oh, ow)).astype(dtype)
    args = (kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    col = np.empty((R, N * P), np.float64)
    cim.im2col(x.astype(np.float64), *args, col)
    col = col.reshape(R, N, P)
    w2 = w.reshape(M, R).astype(np.float64)
    want_y = np.einsum("mr,rnp->nmp", w2, col) + b[:, None]
    want_dw = np.einsum("nmp,rnp->mr", dy.reshape(N, M, P), col)
    want_db = dy.sum(axis=(0, 2, 3), dtype=np.float64)
    want_dx = np.empty(x.shape, np.float64)
    cim.col2im(np.einsum("mr,nmp->rnp", w2, dy.reshape(N, M, P)).reshape(R, N * P), *args,
               want_dx)

    gx, gw, gdy = dev(x), dev(w), dev(dy)
    gy = dev(np.zeros((N, M, oh, ow), dtype))
    gdc.conv_forward(gx, gw, dev(b), True, sh, sw, ph, pw, dh, dw, gy)
    gdw, gdb = dev(np.ones_like(w)), dev(np.ones_like(b))
    gdc.conv_weight_grad(gx, gdy, sh, sw, ph, pw, dh, dw, gdw, gdb, True)
    gdx = dev(np.full_like(x, np.nan))
    gdc.conv_data_grad(gdy, gw, sh, sw, ph, pw, dh, dw, gdx)
    t = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(gy).reshape(N, M, P), want_y, **t)
    np.testing.assert_allclose(host(gdw).reshape(M, R), 1 + want_dw, **t)
    np.testing.assert_allclose(host(gdb), 1 + want_db, **t)
    np.testing.assert_allclose(host(gdx), want_dx, **t)
