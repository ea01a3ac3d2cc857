import numpy as np
import pytest

from layerflow.layer import ShapeError

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch

RNG = np.random.default_rng(0)


def randomize(layer):
    for b in layer.blobs:
        b.data[...] = RNG.normal(size=b.shape)


@pytest.mark.parametrize("params", [{}, {"axis": 1}, {"elementwise_affine": False, "axis": 2}])
def test_layer_norm_gradient(params):
    layer, bottom, top = make_layer("LayerNorm", params, [RNG.normal(size=(2, 3, 4))])
    randomize(layer)
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("params", [{}, {"axis": 1, "eps": 1e-3}, {"elementwise_affine": False}])
def test_layer_norm_matches_torch(dtype, params):
    x = RNG.normal(size=(2, 3, 4, 5)).astype(dtype)
    layer, bottom, top = make_layer("LayerNorm", params, [x], dtype=dtype)
    randomize(layer)
    (y,) = forward(layer, bottom, top)
    dy = RNG.normal(size=y.shape).astype(dtype)
    (dx,), pgrads = backward(layer, bottom, top, [dy])
    tx = to_torch(x)
    shape = x.shape[params.get("axis", -1) % 4:]
    tw = [torch.tensor(b.data, requires_grad=True) for b in layer.blobs]
    ty = torch.nn.functional.layer_norm(tx, shape, *(tw or [None, None]),
                                        eps=params.get("eps", 1e-5))
    ty.backward(torch.tensor(dy))
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(y, ty.detach().numpy(), 10 * rtol, 10 * atol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), 10 * rtol, 10 * atol)
    for g, t in zip(pgrads, tw):
        np.testing.assert_allclose(g, t.grad.numpy(), 100 * rtol, 100 * atol)


def test_layer_norm_shape_change_is_an_error():
    layer, bottom, top = make_layer("LayerNorm", {}, [np.zeros((2, 3))])
    bottom[0].reshape((2, 4))
    with pytest.raises(ShapeError, match=r"must end in \[3\]"):
        layer.reshape(bottom, top)
