"""InnerProduct helpers against their CPU twins, and the layer's three products through the
tiled GEMM against numpy."""
import numpy as np
import pytest

from layerflow.kernels.cpu import inner_product as cip
from layerflow.kernels.cuda import gemm as g
from layerflow.kernels.cuda import inner_product as gip

from .util import DTYPES, dev, host

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize("dtype", DTYPES)
def test_bias_helpers(rng, dtype):
    y = rng.standard_normal((5, 37)).astype(dtype)
    bias = rng.standard_normal(37).astype(dtype)
    db0 = rng.standard_normal(37).astype(dtype)
    want_y, want_db = y.copy(), db0.copy()
    cip.add_bias(want_y, bias)
    cip.accumulate_bias_grad(y, want_db)
    gy, gdb = dev(y), dev(db0)
    gip.add_bias(gy, dev(bias))
    gip.accumulate_bias_grad(dev(y), gdb)
    np.testing.assert_array_equal(host(gy), want_y)
    np.testing.assert_array_equal(host(gdb), want_db)
    acc = rng.standard_normal(300).astype(dtype)
    want = acc.copy()
    cip.accumulate(y.reshape(-1)[:185], want[:185])
    gacc = dev(acc)
    gip.accumulate(dev(y.reshape(-1)[:185]), gacc[:185])
    np.testing.assert_array_equal(host(gacc), want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_inner_product_products(rng, dtype):
    """y = x W^T + b, dW += dy^T x, dx = dy W for a batch of 3, K = 13, 10 outputs."""
    M, K, N = 3, 13, 10
    x = rng.standard_normal((M, K)).astype(dtype)
    w = rng.standard_normal((N, K)).astype(dtype)
    dy = rng.standard_normal((M, N)).astype(dtype)
    dw0 = rng.standard_normal((N, K)).astype(dtype)
    gy, gdw, gdx = dev(np.zeros((M, N), dtype)), dev(dw0), dev(np.zeros((M, K), dtype))
    g.gemm(dev(x), dev(w), gy, trans_b=True)
    g.gemm(dev(dy), dev(x), gdw, trans_a=True, beta=1.0)
    g.gemm(dev(dy), dev(w), gdx)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(host(gy), x @ w.T, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(host(gdw), dw0 + dy.T @ x, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(host(gdx), dy @ w, rtol=rtol, atol=rtol)
