"""The tiled GEMM against numpy's matmul: both tile shapes, transposes, sizes that are not
multiples of a tile, alpha/beta, a broadcast batch and a k split over a batch."""
import numpy as np
import pytest

from layerflow.kernels.cpu import gemm as cg
from layerflow.kernels.cuda import gemm as g

from .util import DTYPES, dev, host

pytestmark = pytest.mark.cuda


def _tol(dtype, K):
    return dict(rtol=1e-5, atol=1e-5 * K) if dtype == np.float32 else dict(rtol=1e-12,
                                                                            atol=1e-12 * K)


@pytest.mark.parametrize("variant", ["small", "large"])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_transposes(rng, variant, trans_a, trans_b, dtype):
    M, N, K = 19, 7, 9                                 # no tile divides any of them
    a = rng.standard_normal((K, M) if trans_a else (M, K)).astype(dtype)
    b = rng.standard_normal((N, K) if trans_b else (K, N)).astype(dtype)
    c0 = rng.standard_normal((M, N)).astype(dtype)
    want = 0.5 * (a.T if trans_a else a) @ (b.T if trans_b else b) + 2.0 * c0
    c = dev(c0)
    g.gemm(dev(a), dev(b), c, trans_a, trans_b, alpha=0.5, beta=2.0, variant=variant)
    np.testing.assert_allclose(host(c), want, **_tol(dtype, K))
    c1 = c0.copy()                                     # the numpy reference twin
    cg.gemm(a, b, c1, trans_a, trans_b, alpha=0.5, beta=2.0)
    np.testing.assert_allclose(c1, want, **_tol(dtype, K))


@pytest.mark.parametrize("M,N,K", [(1, 1, 1), (33, 2, 17), (2, 40, 5), (16, 16, 16)])
def test_gemm_sizes_beta_zero(rng, M, N, K):
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    c = dev(np.full((M, N), np.nan, np.float32))      # beta = 0 never reads C
    g.gemm(dev(a), dev(b), c)
    np.testing.assert_allclose(host(c), a @ b, **_tol(np.float32, K))


def test_gemm_shape_error():
    with pytest.raises(ValueError, match="do not fit"):
        g.gemm(dev(np.zeros((2, 3))), dev(np.zeros((4, 5))), dev(np.zeros((2, 5))))


@pytest.mark.parametrize("variant", ["small", "large"])
def test_gemm_batched_and_k_split(rng, variant):
    """Convolution's two uses: Y_n = W @ col_n for each image (W broadcast) and
    dW = sum_n dY_n @ col_n^T (the images folded into k)."""
    nimg, M, R, P = 3, 5, 7, 6
    w = rng.standard_normal((M, R))
    col = rng.standard_normal((nimg, R, P))
    y = dev(np.zeros((nimg, M, P)))
    g.gemm_strided(M, P, R, dev(w).reshape(M * R), (0, R, 0, 1),
                   dev(col).reshape(col.size), (R * P, 0, P, 1),
                   y.reshape(nimg * M * P), (M * P, P, 1), batch=nimg, variant=variant)
    np.testing.assert_allclose(host(y), np.einsum("mr,nrp->nmp", w, col), rtol=1e-12)
    dy = rng.standard_normal((nimg, M, P))
    dw = dev(np.ones((M, R)))
    g.gemm_strided(M, R, nimg * P, dev(dy).reshape(dy.size), (0, P, M * P, 1),
                   dev(col).reshape(col.size), (0, R * P, 1, P),
                   dw.reshape(M * R), (0, R, 1), kp=P, beta=1.0, variant=variant)
    np.testing.assert_allclose(host(dw), 1 + np.einsum("nmp,nrp->mr", dy, col), rtol=1e-12)
    if variant == "small":                             # the numpy reference twin, same calls
        y2, dw2 = np.zeros(nimg * M * P), np.ones(M * R)
        cg.gemm_strided(M, P, R, w.reshape(-1), (0, R, 0, 1), col.reshape(-1), (R * P, 0, P, 1),
                        y2, (M * P, P, 1), batch=nimg)
        cg.gemm_strided(M, R, nimg * P, dy.reshape(-1), (0, P, M * P, 1), col.reshape(-1),
                        (0, R * P, 1, P), dw2, (0, R, 1), kp=P, beta=1.0)
        np.testing.assert_allclose(y2, host(y).reshape(-1), rtol=1e-12)
        np.testing.assert_allclose(dw2, host(dw).reshape(-1), rtol=1e-12)
