import numpy as np
import pytest

from layerflow.layer import ShapeError

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, torch

RNG = np.random.default_rng(0)
X = (2, 3, 5, 6)


@pytest.mark.parametrize("params,ref", [({"offset": [1, 2]}, (2, 3, 3, 3)),
                                        ({"axis": 1, "offset": [1]}, (2, 2, 4, 5)),
                                        ({}, (2, 3, 2, 2))])
def test_crop_gradient(params, ref):
    layer, bottom, top = make_layer("Crop", params, [RNG.normal(size=X), np.zeros(ref)])
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis,offset,ref", [
    (2, [1, 2], (9, 9, 3, 3)), (2, [2], (1, 1, 3, 4)), (-1, [3], (2, 3, 5, 3)),
    (0, [1, 0, 1, 2], (1, 3, 4, 4)),
])
def test_crop_matches_torch(dtype, axis, offset, ref):
    x = RNG.normal(size=X).astype(dtype)
    layer, bottom, top = make_layer("Crop", {"axis": axis, "offset": offset},
                                    [x, np.zeros(ref)], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    dy = RNG.normal(size=y.shape).astype(dtype)
    (dx, _), _ = backward(layer, bottom, top, [dy], propagate=[True, False])
    ax = axis % 4
    offs = offset * (4 - ax) if len(offset) == 1 else offset
    index = [slice(None)] * ax + [slice(o, o + ref[ax + i]) for i, o in enumerate(offs)]
    tx = to_torch(x)
    ty = tx[tuple(index)]
    ty.backward(torch.tensor(dy))
    assert y.shape == X[:ax] + ref[ax:]
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(dx, tx.grad.numpy())


def test_crop_reference_gets_no_gradient():
    layer, _, _ = make_layer("Crop", {}, [np.zeros(X), np.zeros((2, 3, 2, 2))])
    assert layer.can_backprop(0) and not layer.can_backprop(1)


def test_crop_shape_errors():
    with pytest.raises(ShapeError, match=r"axis 3: offset 4 \+ reference size 3.*exceeds 6"):
        make_layer("Crop", {"offset": [0, 4]}, [np.zeros(X), np.zeros((2, 3, 3, 3))])
    with pytest.raises(ShapeError, match="3 offsets for the 2 axes"):
        make_layer("Crop", {"offset": [0, 1, 1]}, [np.zeros(X), np.zeros((2, 3, 3, 3))])
    with pytest.raises(ShapeError, match="differ in number of axes"):
        make_layer("Crop", {}, [np.zeros(X), np.zeros((3, 3))])
