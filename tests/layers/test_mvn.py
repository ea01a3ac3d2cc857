import numpy as np
import pytest

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch

RNG = np.random.default_rng(0)
CASES = [{}, {"across_channels": True}, {"normalize_variance": False},
         {"normalize_variance": False, "across_channels": True}, {"eps": 0.1}]


@pytest.mark.parametrize("params", CASES)
def test_mvn_gradient(params):
    layer, bottom, top = make_layer("MVN", params, [RNG.normal(size=(2, 3, 2, 3))])
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("params", CASES)
def test_mvn_matches_torch(dtype, params):
    x = RNG.normal(size=(2, 3, 4, 5)).astype(dtype)
    layer, bottom, top = make_layer("MVN", params, [x], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    dy = RNG.normal(size=y.shape).astype(dtype)
    (dx,), _ = backward(layer, bottom, top, [dy])
    tx = to_torch(x)
    dims = (1, 2, 3) if params.get("across_channels") else (2, 3)
    ty = tx - tx.mean(dims, keepdim=True)
    if params.get("normalize_variance", True):
        ty = ty / (ty.pow(2).mean(dims, keepdim=True).sqrt() + params.get("eps", 1e-9))
    ty.backward(torch.tensor(dy))
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(y, ty.detach().numpy(), 10 * rtol, 10 * atol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), 10 * rtol, 10 * atol)


def test_mvn_constant_rows_give_zero_and_finite_gradients():
    layer, bottom, top = make_layer("MVN", {}, [np.ones((1, 2, 3))])
    (y,) = forward(layer, bottom, top)
    (dx,), _ = backward(layer, bottom, top, [np.ones((1, 2, 3))])
    assert np.all(y == 0) and np.all(np.isfinite(dx))
