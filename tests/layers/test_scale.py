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


def view_shape(xshape, axis, pshape):
    """pshape padded with 1s so that it broadcasts against x from `axis` on."""
    return (1,) * axis + tuple(pshape) + (1,) * (len(xshape) - axis - len(pshape))


@pytest.mark.parametrize("params", [
    {"bias_term": True},
    {"axis": 2, "num_axes": 2},
    {"axis": -2, "num_axes": -1, "bias_term": True},
    {"num_axes": 0},
    {"axis": 0},
])
def test_scale_gradient_learned(params):
    params = dict(params, filler=GAUSS, bias_filler=GAUSS)
    layer, bottom, top = make_layer("Scale", params, [RNG.normal(size=X)])
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("axis,sshape", [(0, (2, 3)), (1, (3, 4)), (-1, (2,)), (1, ())])
def test_scale_gradient_second_bottom(axis, sshape):
    layer, bottom, top = make_layer("Scale", {"axis": axis, "bias_term": True,
                                              "bias_filler": GAUSS},
                                    [RNG.normal(size=X), RNG.normal(size=sshape)])
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis,num_axes", [(1, 1), (2, -1), (0, 2)])
def test_scale_learned_matches_torch(dtype, axis, num_axes):
    x = RNG.normal(size=X).astype(dtype)
    dy = RNG.normal(size=X).astype(dtype)
    layer, bottom, top = make_layer("Scale", {"axis": axis, "num_axes": num_axes,
                                              "bias_term": True, "filler": GAUSS,
                                              "bias_filler": GAUSS}, [x], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    (dx,), (ds, db) = backward(layer, bottom, top, [dy])
    pshape = layer.blobs[0].shape
    assert pshape == (X[axis:] if num_axes == -1 else X[axis:axis + num_axes])
    tx, ts, tb = to_torch(x), to_torch(layer.blobs[0].data), to_torch(layer.blobs[1].data)
    vs = view_shape(X, axis, pshape)
    ty = tx * ts.reshape(vs) + tb.reshape(vs)
    ty.backward(torch.tensor(dy))
    for ours, theirs in ((y, ty), (dx, tx.grad), (ds, ts.grad), (db, tb.grad)):
        close(ours, theirs.detach().numpy(), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_scale_second_bottom_matches_torch(dtype):
    x = RNG.normal(size=X).astype(dtype)
    s = RNG.normal(size=(2, 3)).astype(dtype)
    dy = RNG.normal(size=X).astype(dtype)
    layer, bottom, top = make_layer("Scale", {"axis": 0}, [x, s], dtype=dtype)
    assert layer.blobs == []
    (y,) = forward(layer, bottom, top)
    (dx, dsb), _ = backward(layer, bottom, top, [dy])
    tx, ts = to_torch(x), to_torch(s)
    ty = tx * ts.reshape(2, 3, 1, 1)
    ty.backward(torch.tensor(dy))
    for ours, theirs in ((y, ty), (dx, tx.grad), (dsb, ts.grad)):
        close(ours, theirs.detach().numpy(), dtype)


def test_scale_default_filler_is_one_and_diffs_accumulate():
    x = RNG.normal(size=X)
    layer, bottom, top = make_layer("Scale", {"bias_term": True}, [x])
    np.testing.assert_array_equal(layer.blobs[0].data, np.ones(3))
    np.testing.assert_array_equal(layer.blobs[1].data, np.zeros(3))
    forward(layer, bottom, top)
    top[0].diff[...] = 1.0
    for b in layer.blobs:
        b.diff[...] = 0
    layer.backward(top, [False], bottom)
    once = [b.diff.copy() for b in layer.blobs]
    layer.backward(top, [False], bottom)
    for b, g in zip(layer.blobs, once):
        np.testing.assert_allclose(b.diff, 2 * g)


def test_scale_in_place_keeps_x_for_the_scale_gradient():
    x = RNG.normal(size=X)
    dy = RNG.normal(size=X)
    params = {"bias_term": True, "filler": GAUSS, "bias_filler": GAUSS}
    ref, rb, rt = make_layer("Scale", params, [x])
    (y,) = forward(ref, rb, rt)
    (dx,), grads = backward(ref, rb, rt, [dy])
    layer, bottom, _ = make_layer("Scale", params, [x])
    layer.reshape(bottom, bottom)        # as the Net does before every forward
    layer.forward(bottom, bottom)
    np.testing.assert_allclose(bottom[0].data, y, rtol=1e-12)
    bottom[0].diff[...] = dy
    for b in layer.blobs:
        b.diff[...] = 0
    layer.backward(bottom, [True], bottom)
    np.testing.assert_allclose(bottom[0].diff, dx, rtol=1e-12)
    for b, g in zip(layer.blobs, grads):
        np.testing.assert_allclose(b.diff, g, rtol=1e-12)


def test_scale_shape_errors():
    with pytest.raises(ShapeError, match=r"bottom1.*\[3, 5\].*bottom0.*\[2, 3, 4, 2\]"):
        make_layer("Scale", {}, [np.zeros(X), np.zeros((3, 5))])
    with pytest.raises(ShapeError, match="num_axes 3 exceeds"):
        make_layer("Scale", {"axis": 2, "num_axes": 3}, [np.zeros(X)])
    with pytest.raises(ShapeError, match="axis 4 out of range"):
        make_layer("Scale", {"axis": 4}, [np.zeros(X)])
    layer, bottom, top = make_layer("Scale", {}, [np.zeros(X)])
    bottom[0].reshape((2, 5, 4, 2))
    with pytest.raises(ShapeError, match=r"learned blob of shape \[3\]"):
        layer.reshape(bottom, top)


def test_scale_second_bottom_follows_a_batch_change():
    layer, bottom, top = make_layer("Scale", {"axis": 0}, [np.ones((2, 3, 4)), np.ones((2, 3))])
    x, s = RNG.normal(size=(5, 3, 4)), RNG.normal(size=(5, 3))
    for blob, a in zip(bottom, (x, s)):
        blob.reshape(a.shape)
        blob.data[...] = a
    (y,) = forward(layer, bottom, top)
    np.testing.assert_allclose(y, x * s[:, :, None], rtol=1e-12)
