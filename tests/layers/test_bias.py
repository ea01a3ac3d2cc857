import numpy as np
import pytest

from layerflow.layer import ShapeError

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch

RNG = np.random.default_rng(0)
X = (2, 3, 4, 2)
GAUSS = {"type": "gaussian", "std": 1.0}


def close(ours, theirs, dtype):
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(ours, theirs, rtol=10 * rtol, atol=10 * atol)


@pytest.mark.parametrize("params", [{}, {"axis": 2, "num_axes": -1}, {"num_axes": 0}])
def test_bias_gradient_learned(params):
    layer, bottom, top = make_layer("Bias", dict(params, filler=GAUSS), [RNG.normal(size=X)])
    check_gradient(layer, bottom, top)


def test_bias_gradient_second_bottom():
    layer, bottom, top = make_layer("Bias", {"axis": 0},
                                    [RNG.normal(size=X), RNG.normal(size=(2, 3, 4))])
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis,num_axes", [(1, 1), (1, 2), (3, 1)])
def test_bias_learned_matches_torch(dtype, axis, num_axes):
    x = RNG.normal(size=X).astype(dtype)
    dy = RNG.normal(size=X).astype(dtype)
    layer, bottom, top = make_layer("Bias", {"axis": axis, "num_axes": num_axes,
                                             "filler": GAUSS}, [x], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    (dx,), (db,) = backward(layer, bottom, top, [dy])
    pshape = X[axis:axis + num_axes]
    tx, tb = to_torch(x), to_torch(layer.blobs[0].data)
    ty = tx + tb.reshape((1,) * axis + pshape + (1,) * (4 - axis - num_axes))
    ty.backward(torch.tensor(dy))
    for ours, theirs in ((y, ty), (dx, tx.grad), (db, tb.grad)):
        close(ours, theirs.detach().numpy(), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bias_second_bottom_matches_torch(dtype):
    x = RNG.normal(size=X).astype(dtype)
    b = RNG.normal(size=(3, 4)).astype(dtype)
    dy = RNG.normal(size=X).astype(dtype)
    layer, bottom, top = make_layer("Bias", {}, [x, b], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    (dx, dbb), _ = backward(layer, bottom, top, [dy])
    tx, tb = to_torch(x), to_torch(b)
    ty = tx + tb.reshape(1, 3, 4, 1)
    ty.backward(torch.tensor(dy))
    for ours, theirs in ((y, ty), (dx, tx.grad), (dbb, tb.grad)):
        close(ours, theirs.detach().numpy(), dtype)


def test_bias_in_place():
    x = RNG.normal(size=X)
    dy = RNG.normal(size=X)
    layer, bottom, _ = make_layer("Bias", {"filler": GAUSS}, [x])
    layer.reshape(bottom, bottom)        # as the Net does before every forward
    layer.forward(bottom, bottom)
    np.testing.assert_allclose(bottom[0].data, x + layer.blobs[0].data.reshape(1, 3, 1, 1))
    bottom[0].diff[...] = dy
    layer.blobs[0].diff[...] = 0
    layer.backward(bottom, [True], bottom)
    np.testing.assert_array_equal(bottom[0].diff, dy)
    np.testing.assert_allclose(layer.blobs[0].diff, dy.sum(axis=(0, 2, 3)))


def test_bias_shape_errors():
    with pytest.raises(ShapeError, match=r"bottom1.*\[4\].*bottom0"):
        make_layer("Bias", {}, [np.zeros(X), np.zeros(4)])
    with pytest.raises(ShapeError, match="num_axes 2 exceeds"):
        make_layer("Bias", {"axis": 3, "num_axes": 2}, [np.zeros(X)])
