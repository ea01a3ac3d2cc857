"""Sigmoid and TanH: gradient checks and PyTorch comparisons."""
import numpy as np
import pytest

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch

CASES = [("Sigmoid", torch.sigmoid), ("TanH", torch.tanh)]


@pytest.mark.parametrize("type_name,_", CASES)
def test_activation_gradient(type_name, _):
    x = np.random.default_rng(0).normal(scale=2, size=(2, 3, 4))
    layer, bottom, top = make_layer(type_name, {}, [x])
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("type_name,fn", CASES)
def test_activation_matches_torch(type_name, fn, dtype):
    rng = np.random.default_rng(1)
    x = rng.normal(scale=3, size=(2, 3, 5)).astype(dtype)
    x[0, 0, :2] = [-100, 100]            # saturation must not overflow
    dy = rng.normal(size=x.shape).astype(dtype)
    layer, bottom, top = make_layer(type_name, {}, [x], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    (dx,), _ = backward(layer, bottom, top, [dy])
    tx = to_torch(x)
    ty = fn(tx)
    ty.backward(torch.tensor(dy))
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, ty.detach().numpy(), *tol(dtype))
    np.testing.assert_allclose(dx, tx.grad.numpy(), *tol(dtype))


@pytest.mark.parametrize("type_name,_", CASES)
def test_activation_in_place_matches_out_of_place(type_name, _):
    rng = np.random.default_rng(3)
    x, dy = rng.normal(size=(3, 7)), rng.normal(size=(3, 7))
    layer, bottom, top = make_layer(type_name, {}, [x])
    (y,) = forward(layer, bottom, top)
    (dx,), _ = backward(layer, bottom, top, [dy])
    layer.forward(bottom, bottom)
    bottom[0].diff[...] = dy
    layer.backward(bottom, [True], bottom)
    np.testing.assert_allclose(bottom[0].data, y)
    np.testing.assert_allclose(bottom[0].diff, dx)
