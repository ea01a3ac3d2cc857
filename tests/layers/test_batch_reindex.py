import numpy as np
import pytest

from layerflow.layer import ShapeError

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch

RNG = np.random.default_rng(0)


def test_batch_reindex_gradient():
    layer, bottom, top = make_layer("BatchReindex", {}, [RNG.normal(size=(4, 2, 3)),
                                                         np.array([3.0, 0, 3, 1, 3])])
    check_gradient(layer, bottom, top, check_bottom=[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_reindex_matches_torch_index_select(dtype):
    x = RNG.normal(size=(5, 3, 2)).astype(dtype)
    idx = np.array([4, 4, 0, 2, 1, 4, 3])
    layer, bottom, top = make_layer("BatchReindex", {}, [x, idx.astype(dtype)], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    dy = RNG.normal(size=y.shape).astype(dtype)
    (dx, _), _ = backward(layer, bottom, top, [dy])
    tx = to_torch(x)
    ty = torch.index_select(tx, 0, torch.tensor(idx))
    ty.backward(torch.tensor(dy))
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_allclose(dx, tx.grad.numpy(), *tol(dtype))


def test_batch_reindex_bad_index():
    layer, bottom, top = make_layer("BatchReindex", {}, [np.zeros((3, 2)), np.array([0.0, 3])])
    with pytest.raises(ShapeError, match=r"\[1\] = 3.0 is not a sample.*N = 3"):
        forward(layer, bottom, top)
