import numpy as np
import pytest

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch


def inputs(shape=(2, 3, 4, 2)):
    x = np.random.default_rng(0).normal(size=shape)
    x[np.abs(x) < 0.02] = 0.5            # away from the kink
    return x


@pytest.mark.parametrize("shared", [False, True])
def test_prelu_gradient(shared):
    layer, bottom, top = make_layer("PReLU", {"channel_shared": shared}, [inputs()])
    layer.blobs[0].data[...] = np.random.default_rng(1).uniform(0.1, 0.5, layer.blobs[0].shape)
    check_gradient(layer, bottom, top, kink=0.0, kink_range=0.01)


def test_prelu_slopes_default_to_a_quarter_and_have_caffe_shapes():
    layer, _, _ = make_layer("PReLU", {}, [inputs()])
    assert layer.blobs[0].shape == (3,) and np.all(layer.blobs[0].data == 0.25)
    shared, _, _ = make_layer("PReLU", {"channel_shared": True}, [inputs()])
    assert shared.blobs[0].shape == () and shared.blobs[0].data == 0.25
    custom, _, _ = make_layer("PReLU", {"filler": {"type": "constant", "value": 0.1}},
                              [inputs()])
    assert np.all(custom.blobs[0].data == np.float64(0.1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shared", [False, True])
def test_prelu_matches_torch(dtype, shared):
    x = inputs().astype(dtype)
    dy = np.random.default_rng(2).normal(size=x.shape).astype(dtype)
    layer, bottom, top = make_layer("PReLU", {"channel_shared": shared}, [x], dtype=dtype)
    layer.blobs[0].data[...] = np.random.default_rng(3).uniform(0, 1, layer.blobs[0].shape)
    (y,), ((dx,), (da,)) = forward(layer, bottom, top), backward(layer, bottom, top, [dy])
    tx, ta = to_torch(x), to_torch(layer.blobs[0].data.reshape(-1))
    ty = torch.nn.functional.prelu(tx, ta)
    ty.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), *tol(dtype))
    np.testing.assert_allclose(dx, tx.grad.numpy(), *tol(dtype))
    np.testing.assert_allclose(da.reshape(-1), ta.grad.numpy(), rtol=10 * tol(dtype)[0],
                               atol=10 * tol(dtype)[1])


def test_prelu_in_place_matches_out_of_place():
    x, dy = inputs(), np.random.default_rng(4).normal(size=(2, 3, 4, 2))
    layer, bottom, top = make_layer("PReLU", {}, [x])
    (y,) = forward(layer, bottom, top)
    (dx,), (da,) = backward(layer, bottom, top, [dy])
    layer.reshape(bottom, bottom)
    layer.forward(bottom, bottom)
    np.testing.assert_array_equal(bottom[0].data, y)
    layer.blobs[0].diff[...] = 0
    bottom[0].diff[...] = dy
    layer.backward(bottom, [True], bottom)
    np.testing.assert_allclose(bottom[0].diff, dx, rtol=1e-14)
    np.testing.assert_allclose(layer.blobs[0].diff, da, rtol=1e-14)


def test_prelu_slope_gradient_adds_and_without_propagate_down():
    x, dy = inputs(), np.ones((2, 3, 4, 2))
    layer, bottom, top = make_layer("PReLU", {}, [x])
    forward(layer, bottom, top)
    top[0].diff[...] = dy
    layer.blobs[0].diff[...] = 1.0
    bottom[0].diff[...] = 7.0
    layer.backward(top, [False], bottom)
    expected = 1.0 + np.where(x <= 0, x, 0).sum(axis=(0, 2, 3))
    np.testing.assert_allclose(layer.blobs[0].diff, expected)
    assert np.all(bottom[0].diff == 7.0), "propagate_down false leaves the bottom diff alone"


def test_prelu_channel_mismatch_is_a_clear_error():
    from layerflow.layer import ShapeError
    layer, bottom, top = make_layer("PReLU", {}, [inputs()])
    bottom[0].reshape((2, 5, 4, 2))
    with pytest.raises(ShapeError, match=r"'bottom0' of shape \[2, 5, 4, 2\].*3 channels"):
        layer.reshape(bottom, top)
