import numpy as np
import pytest

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol


def test_euclidean_loss_gradient():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    layer, bottom, top = make_layer("EuclideanLoss", {}, [a, b])
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
def test_euclidean_loss_matches_torch(dtype):
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(5, 2, 3)).astype(dtype), rng.normal(size=(5, 2, 3)).astype(dtype)
    layer, bottom, top = make_layer("EuclideanLoss", {}, [a, b], dtype=dtype)
    (loss,) = forward(layer, bottom, top)
    (da, db), _ = backward(layer, bottom, top, [np.array(2.0)], propagate=[True, True])
    ta, tb = to_torch(a), to_torch(b)
    tl = 2.0 * ((ta - tb) ** 2).sum() / (2 * a.shape[0])
    tl.backward()
    np.testing.assert_allclose(2.0 * loss, tl.item(), rtol=tol(dtype)[0] * 10)
    np.testing.assert_allclose(da, ta.grad.numpy(), *tol(dtype))
    np.testing.assert_allclose(db, tb.grad.numpy(), *tol(dtype))
