import numpy as np
import pytest

from layerflow.layer import ShapeError

from .harness import DTYPES, forward, make_layer, torch

RNG = np.random.default_rng(0)


def reference(x, top_k, out_max_val, axis):
    """Caffe's rule in plain numpy: rank (value, index) pairs descending."""
    if axis is None:
        flat = x.reshape(x.shape[0], -1)
        idx = np.array([sorted(range(flat.shape[1]), key=lambda j: (-r[j], -j))[:top_k]
                        for r in flat])
        vals = np.take_along_axis(flat, idx, 1)
        shape = [1] * max(3, x.ndim)
        shape[0], shape[2] = x.shape[0], top_k
        if out_max_val:
            shape[1] = 2
            return np.stack([idx, vals], 1).reshape(shape)
        return idx.reshape(shape)
    moved = np.moveaxis(x, axis, -1)
    idx = np.apply_along_axis(
        lambda r: np.array(sorted(range(r.size), key=lambda j: (-r[j], -j))[:top_k]), -1, moved)
    out = np.take_along_axis(moved, idx, -1) if out_max_val else idx
    return np.moveaxis(out, -1, axis)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("params", [{}, {"top_k": 3}, {"top_k": 2, "out_max_val": True},
                                    {"axis": 1, "top_k": 2}, {"axis": -1, "out_max_val": True},
                                    {"axis": 0, "top_k": 2, "out_max_val": True}])
def test_arg_max_matches_reference(dtype, params):
    x = RNG.normal(size=(3, 4, 2, 5)).astype(dtype)
    layer, bottom, top = make_layer("ArgMax", params, [x], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    expected = reference(x, params.get("top_k", 1), params.get("out_max_val", False),
                         params.get("axis"))
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y, expected.astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_arg_max_matches_torch_topk(dtype):
    x = RNG.normal(size=(4, 7, 3)).astype(dtype)
    layer, bottom, top = make_layer("ArgMax", {"axis": 1, "top_k": 3}, [x], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    np.testing.assert_array_equal(y, torch.topk(torch.tensor(x), 3, dim=1).indices.numpy())


def test_arg_max_ties_rank_the_larger_index_first():
    layer, bottom, top = make_layer("ArgMax", {"top_k": 3}, [np.array([[1.0, 2.0, 2.0, 0.0]])])
    (y,) = forward(layer, bottom, top)
    np.testing.assert_array_equal(y.reshape(-1), [2, 1, 0])


def test_arg_max_top_k_too_large():
    with pytest.raises(ShapeError, match="top_k 5 is more than the 4"):
        make_layer("ArgMax", {"top_k": 5}, [np.zeros((2, 4))])
