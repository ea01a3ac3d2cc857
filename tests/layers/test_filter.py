import numpy as np
import pytest

from layerflow.layer import ShapeError

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, torch

RNG = np.random.default_rng(0)


def test_filter_gradient():
    sel = np.array([1.0, 0, 1, 1, 0])
    layer, bottom, top = make_layer("Filter", {}, [RNG.normal(size=(5, 2, 2)),
                                                   RNG.normal(size=(5,)), sel], num_top=2)
    check_gradient(layer, bottom, top, check_bottom=[0, 1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_filter_keeps_the_selected_rows(dtype):
    x = RNG.normal(size=(6, 3, 2)).astype(dtype)
    label = np.arange(6).astype(dtype)
    sel = np.array([[0], [2], [0], [1], [0.5], [0]], dtype)
    layer, bottom, top = make_layer("Filter", {}, [x, label, sel], num_top=2, dtype=dtype)
    y, lab = forward(layer, bottom, top)
    keep = sel.reshape(-1) != 0
    np.testing.assert_array_equal(y, x[keep])
    np.testing.assert_array_equal(lab, label[keep])
    dy = RNG.normal(size=y.shape).astype(dtype)
    (dx, dl, _), _ = backward(layer, bottom, top, [dy, np.ones(3, dtype)])
    expected = np.zeros_like(x)
    expected[keep] = dy
    np.testing.assert_array_equal(dx, expected)
    np.testing.assert_array_equal(dl, keep.astype(dtype))
    tx = to_torch(x)                                   # PyTorch's boolean-mask indexing
    ty = tx[torch.tensor(keep)]
    ty.backward(torch.tensor(dy))
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(dx, tx.grad.numpy())


def test_filter_may_keep_nothing_and_follows_the_selector():
    layer, bottom, top = make_layer("Filter", {}, [np.ones((3, 2)), np.zeros(3)])
    (y,) = forward(layer, bottom, top)
    assert y.shape == (0, 2)
    bottom[1].data[...] = [0, 1, 0]
    (y,) = forward(layer, bottom, top)
    assert y.shape == (1, 2)


def test_filter_shape_errors():
    with pytest.raises(ShapeError, match="selector's 3 samples"):
        make_layer("Filter", {}, [np.ones((4, 2)), np.ones(3)])
    with pytest.raises(ShapeError, match="as many tops"):
        make_layer("Filter", {}, [np.ones((3, 2)), np.ones(3)], num_top=2)
