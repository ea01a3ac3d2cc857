import numpy as np
import pytest

from layerflow.layer import ShapeError

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, torch

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("order", [[0, 2, 3, 1], [3, 1]])
def test_permute_gradient(order):
    layer, bottom, top = make_layer("Permute", {"order": order}, [RNG.normal(size=(2, 3, 2, 4))])
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order,full", [([0, 2, 3, 1], [0, 2, 3, 1]), ([2], [2, 0, 1, 3]),
                                        ([], [0, 1, 2, 3]), ([-1, 0], [3, 0, 1, 2])])
def test_permute_matches_torch(dtype, order, full):
    x = RNG.normal(size=(2, 3, 4, 5)).astype(dtype)
    layer, bottom, top = make_layer("Permute", {"order": order}, [x], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    dy = RNG.normal(size=y.shape).astype(dtype)
    (dx,), _ = backward(layer, bottom, top, [dy])
    tx = to_torch(x)
    ty = torch.permute(tx, full)
    ty.backward(torch.tensor(dy))
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(dx, tx.grad.numpy())


def test_permute_bad_order():
    with pytest.raises(ShapeError, match="twice"):
        make_layer("Permute", {"order": [1, 1]}, [np.zeros((2, 3))])
    with pytest.raises(ShapeError, match="names axis 4"):
        make_layer("Permute", {"order": [4]}, [np.zeros((2, 3))])
