import numpy as np
import pytest

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch


def inputs(dtype, shape=(3, 4, 5)):
    x = np.random.default_rng(0).normal(size=shape).astype(dtype)
    x[np.abs(x) < 0.02] = 0.5        # keep away from the kink for the numeric check
    return x


@pytest.mark.parametrize("slope", [0.0, 0.1])
def test_relu_gradient(slope):
    layer, bottom, top = make_layer("ReLU", {"negative_slope": slope}, [inputs(np.float64)])
    check_gradient(layer, bottom, top, kink=0.0, kink_range=0.01)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("slope", [0.0, 0.1])
def test_relu_matches_torch(dtype, slope):
    x = inputs(dtype)
    dy = np.random.default_rng(1).normal(size=x.shape).astype(dtype)
    layer, bottom, top = make_layer("ReLU", {"negative_slope": slope}, [x], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    (dx,), _ = backward(layer, bottom, top, [dy])
    tx = to_torch(x)
    ty = torch.nn.functional.leaky_relu(tx, slope)
    ty.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), *tol(dtype))
    np.testing.assert_allclose(dx, tx.grad.numpy(), *tol(dtype))


def test_relu_in_place_shares_blob():
    layer, bottom, _ = make_layer("ReLU", {}, [inputs(np.float32)], dtype=np.float32)
    x = bottom[0].data.copy()
    layer.forward(bottom, bottom)
    np.testing.assert_array_equal(bottom[0].data, np.maximum(x, 0))


@pytest.mark.parametrize("slope", [0.0, 0.1])
def test_relu_in_place_backward_matches_out_of_place(slope):
    x = inputs(np.float64)
    dy = np.random.default_rng(2).normal(size=x.shape)
    layer, bottom, top = make_layer("ReLU", {"negative_slope": slope}, [x])
    forward(layer, bottom, top)
    (expected,), _ = backward(layer, bottom, top, [dy])
    layer.forward(bottom, bottom)
    bottom[0].diff[...] = dy
    layer.backward(bottom, [True], bottom)
    np.testing.assert_allclose(bottom[0].diff, expected)
    np.testing.assert_allclose(bottom[0].data, np.where(x > 0, x, slope * x))
