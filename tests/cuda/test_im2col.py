"""im2col / col2im and the channel bias passes against their CPU twins (bit for bit), and
a whole convolution (im2col + strided GEMM, both gradients) against the CPU kernels."""
import numpy as np
import pytest

from layerflow.kernels.cpu import im2col as cim
from layerflow.kernels.cuda import gemm as g
from layerflow.kernels.cuda import im2col as gim

from .util import DTYPES, dev, host

pytestmark = pytest.mark.cuda

# (N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw)
GEOMS = [
    (2, 2, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1),
    (1, 2, 6, 7, 3, 2, 2, 3, 1, 0, 1, 1),
    (2, 1, 7, 6, 2, 3, 1, 2, 2, 1, 2, 1),
]


def _out(H, W, kh, kw, sh, sw, ph, pw, dh, dw):
    return ((H + 2 * ph - (dh * (kh - 1) + 1)) // sh + 1,
            (W + 2 * pw - (dw * (kw - 1) + 1)) // sw + 1)


@pytest.mark.parametrize("geom", GEOMS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_im2col_col2im(rng, geom, dtype):
    N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw = geom
    oh, ow = _out(H, W, kh, kw, sh, sw, ph, pw, dh, dw)
    args = (kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    col = np.empty((C * kh * kw, N * oh * ow), dtype)
    cim.im2col(x, *args, col)
    gcol = dev(np.full_like(col, np.nan))
    gim.im2col(dev(x), *args, gcol)
    np.testing.assert_array_equal(host(gcol), col)
    dcol = rng.standard_normal(col.shape).astype(dtype)
    dx = np.empty_like(x)
    cim.col2im(dcol, *args, dx)
    gdx = dev(np.full_like(x, np.nan))
    gim.col2im(dev(dcol), *args, gdx)
    np.testing.assert_array_equal(host(gdx), dx)


@pytest.mark.parametrize("dtype", DTYPES)
def test_channel_bias(rng, dtype):
    y = rng.standard_normal((2, 5, 7)).astype(dtype)
    bias = rng.standard_normal(5).astype(dtype)
    db0 = rng.standard_normal(5).astype(dtype)
    want_y, want_db = y.copy(), db0.copy()
    cim.add_channel_bias(want_y, bias)
    cim.channel_sum(y, want_db)
    gy, gdb = dev(y), dev(db0)
    gim.add_channel_bias(gy, dev(bias))
    gim.channel_sum(dev(y), gdb)
    np.testing.assert_array_equal(host(gy), want_y)
    np.testing.assert_array_equal(host(gdb), want_db)


def test_convolution_by_gemm(rng):
    """The GPU Convolution's plan: y_n = W @ col_n into NCHW, dW = sum_n dy_n col_n^T,
    dcol_n = W^T dy_n then col2im; against the same products on the CPU."""
    N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw = GEOMS[1]
    M = 3
    oh, ow = _out(H, W, kh, kw, sh, sw, ph, pw, dh, dw)
    P, R = oh * ow, C * kh * kw
    args = (kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((M, R))
    dy = rng.standard_normal((N, M, P))
    col = np.empty((R, N * P))
    cim.im2col(x, *args, col)
    want_y = np.einsum("mr,rnp->nmp", w, col.reshape(R, N, P))
    want_dw = np.einsum("nmp,rnp->mr", dy, col.reshape(R, N, P))
    want_dx = np.empty_like(x)
    cim.col2im(np.einsum("mr,nmp->rnp", w, dy).reshape(R, N * P), *args, want_dx)

    gx, gw, gdy = dev(x), dev(w), dev(dy)
    gcol, gy = dev(np.zeros((R, N * P))), dev(np.zeros((N, M, P)))
    gim.im2col(gx, *args, gcol)
    flat = lambda a: a.reshape(a.size)                 # noqa: E731
    g.gemm_strided(M, P, R, flat(gw), (0, R, 0, 1), flat(gcol), (P, 0, N * P, 1),
                   flat(gy), (M * P, P, 1), batch=N)
    gdw = dev(np.zeros((M, R)))
    g.gemm_strided(M, R, N * P, flat(gdy), (0, P, M * P, 1), flat(gcol), (0, P, 1, N * P),
                   flat(gdw), (0, R, 1), kp=P, beta=1.0)
    gdcol, gdx = dev(np.zeros((R, N * P))), dev(np.zeros_like(x))
    g.gemm_strided(R, P, M, flat(gw), (0, 1, 0, R), flat(gdy), (M * P, 0, P, 1),
                   flat(gdcol), (P, N * P, 1), batch=N)
    gim.col2im(gdcol, *args, gdx)
    np.testing.assert_allclose(host(gy), want_y, rtol=1e-12)
    np.testing.assert_allclose(host(gdw), want_dw, rtol=1e-12)
    np.testing.assert_allclose(host(gdx), want_dx, rtol=1e-12, atol=1e-12)
