import numpy as np
import pytest

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch


@pytest.mark.parametrize("axis", [1, -1])
def test_softmax_gradient(axis):
    x = np.random.default_rng(0).normal(size=(2, 3, 4))
    layer, bottom, top = make_layer("Softmax", {"axis": axis}, [x])
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_softmax_matches_torch(dtype, axis):
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(2, 3, 4)) * 10).astype(dtype)
    dy = rng.normal(size=x.shape).astype(dtype)
    layer, bottom, top = make_layer("Softmax", {"axis": axis}, [x], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    (dx,), _ = backward(layer, bottom, top, [dy])
    tx = to_torch(x)
    ty = torch.softmax(tx, axis)
    ty.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), *tol(dtype))
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=tol(dtype)[0], atol=10 * tol(dtype)[1])


def test_softmax_bad_axis_names_layer_and_shape():
    from layerflow.layer import ShapeError
    with pytest.raises(ShapeError, match=r"layer 'softmax'.*axis 3.*\[2, 3\]"):
        make_layer("Softmax", {"axis": 3}, [np.zeros((2, 3))])
