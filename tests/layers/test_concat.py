import numpy as np
import pytest

from layerflow.layer import ShapeError

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, torch

RNG = np.random.default_rng(0)


def shapes(axis, sizes, base=(2, 3, 2, 3)):
    out = []
    for s in sizes:
        shape = list(base)
        shape[axis] = s
        out.append(tuple(shape))
    return out


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat_gradient(axis):
    xs = [RNG.normal(size=s) for s in shapes(axis, [1, 3, 2])]
    layer, bottom, top = make_layer("Concat", {"axis": axis}, xs)
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_concat_matches_torch(dtype, axis):
    xs = [RNG.normal(size=s).astype(dtype) for s in shapes(axis, [2, 1, 3])]
    layer, bottom, top = make_layer("Concat", {"axis": axis}, xs, dtype=dtype)
    (y,) = forward(layer, bottom, top)
    dy = RNG.normal(size=y.shape).astype(dtype)
    dxs, _ = backward(layer, bottom, top, [dy])
    ts = [to_torch(x) for x in xs]
    ty = torch.cat(ts, dim=axis)
    ty.backward(torch.tensor(dy))
    np.testing.assert_array_equal(y, ty.detach().numpy())
    for dx, t in zip(dxs, ts):
        np.testing.assert_array_equal(dx, t.grad.numpy())


def test_concat_follows_shape_changes():
    layer, bottom, top = make_layer("Concat", {}, [np.zeros((2, 3)), np.zeros((2, 1))])
    a, b = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 4))
    for blob, x in zip(bottom, (a, b)):
        blob.reshape(x.shape)
        blob.data[...] = x
    (y,) = forward(layer, bottom, top)
    np.testing.assert_array_equal(y, np.concatenate([a, b], axis=1))


def test_concat_shape_errors():
    with pytest.raises(ShapeError, match=r"every axis but 1.*bottom0.*\[2, 3, 4\].*"
                                         r"bottom1.*\[2, 3, 5\]"):
        make_layer("Concat", {}, [np.zeros((2, 3, 4)), np.zeros((2, 3, 5))])
    with pytest.raises(ShapeError, match=r"\[2, 3\].*\[2, 3, 1\]"):
        make_layer("Concat", {}, [np.zeros((2, 3)), np.zeros((2, 3, 1))])
    with pytest.raises(ShapeError, match="axis 3 out of range"):
        make_layer("Concat", {"axis": 3}, [np.zeros((2, 3))] * 2)


def test_concat_accepts_caffes_concat_dim():
    layer, bottom, top = make_layer("Concat", {"concat_dim": 0},
                                    [np.ones((1, 2)), np.zeros((3, 2))])
    assert top[0].shape == (4, 2)
