import numpy as np
import pytest

from layerflow.config import ConfigError
from layerflow.layer import ShapeError

from .harness import DTYPES, backward, forward, make_layer, to_torch, torch
from .test_flatten import check_view_gradient

RNG = np.random.default_rng(0)
X = (2, 3, 6, 5)

CASES = [  # params, expected top shape (Caffe's test_reshape_layer cases and docs)
    ({"shape": [0, 0, 0, 0]}, (2, 3, 6, 5)),
    ({"shape": [0, -1]}, (2, 90)),
    ({"shape": [6, 2, 3, 5]}, (6, 2, 3, 5)),
    ({"shape": [-1, 15]}, (12, 15)),
    ({"shape": [0, 3, -1, 2]}, (2, 3, 15, 2)),
    ({"shape": [1], "axis": 0, "num_axes": 0}, (1, 2, 3, 6, 5)),
    ({"shape": [1], "axis": -1, "num_axes": 0}, (2, 3, 6, 5, 1)),
    ({"shape": [-1], "axis": 1, "num_axes": 2}, (2, 18, 5)),
    ({"shape": [0, 2, -1], "axis": 1, "num_axes": 2}, (2, 3, 2, 3, 5)),
    ({"shape": [5, 6], "axis": -3}, (2, 3, 5, 6)),     # -1 is after the last axis
]


@pytest.mark.parametrize("params,expected", CASES[:4])
def test_reshape_gradient(params, expected):
    layer, bottom, top = make_layer("Reshape", params, [RNG.normal(size=(2, 3, 2, 5))
                                                          if params["shape"][0] != 6
                                                          else RNG.normal(size=X)])
    check_view_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("params,expected", CASES)
def test_reshape_matches_torch(dtype, params, expected):
    x = RNG.normal(size=X).astype(dtype)
    layer, bottom, top = make_layer("Reshape", params, [x], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    assert y.shape == expected
    dy = RNG.normal(size=expected).astype(dtype)
    (dx,), _ = backward(layer, bottom, top, [dy])
    tx = to_torch(x)
    ty = torch.reshape(tx, expected)
    ty.backward(torch.tensor(dy))
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(dx, tx.grad.numpy())
    assert np.shares_memory(top[0].data, bottom[0].data)


def test_reshape_infers_again_when_the_batch_changes():
    layer, bottom, top = make_layer("Reshape", {"shape": [-1, 10]}, [np.zeros((2, 5, 2))])
    assert top[0].shape == (2, 10)
    bottom[0].reshape((7, 5, 2))
    bottom[0].data[...] = RNG.normal(size=(7, 5, 2))
    (y,) = forward(layer, bottom, top)
    np.testing.assert_array_equal(y, bottom[0].data.reshape(7, 10))
    assert np.shares_memory(top[0].data, bottom[0].data)


@pytest.mark.parametrize("params,match", [
    ({"shape": [7, -1]},
     r"cannot reshape bottom 'bottom0' \[2, 3, 6, 5\] \(180 values\) to \[7, \?\]"),
    ({"shape": [4, 5]}, r"\(180 values\) to \[4, 5\] \(20 values\)"),
    ({"shape": [0, 0, 0, 0, 0]}, r"dim 4 is 0 \(copy\).*has no axis 4"),
    ({"shape": [2], "axis": 3, "num_axes": 2}, "num_axes 2 exceeds"),
    ({"shape": [2], "axis": 6}, "axis 6 out of range"),
])
def test_reshape_impossible_shapes(params, match):
    with pytest.raises(ShapeError, match=match):
        make_layer("Reshape", params, [np.zeros(X)])


@pytest.mark.parametrize("params,match", [({"shape": [-1, -1]}, "one dim only"),
                                          ({"shape": [2, -2]}, ">= -1")])
def test_reshape_bad_params(params, match):
    with pytest.raises(ConfigError, match=match):
        make_layer("Reshape", params, [np.zeros(X)])
