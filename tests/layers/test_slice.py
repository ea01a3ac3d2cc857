import numpy as np
import pytest

from layerflow.config import ConfigError
from layerflow.layer import ShapeError

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, torch

RNG = np.random.default_rng(0)
X = (2, 6, 2, 3)


@pytest.mark.parametrize("params,n", [({"slice_point": [1, 4]}, 3), ({"axis": 0}, 2),
                                      ({"axis": -1}, 3)])
def test_slice_gradient(params, n):
    layer, bottom, top = make_layer("Slice", params, [RNG.normal(size=X)], num_top=n)
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis,points", [(1, [1, 4]), (1, []), (2, [1]), (-1, [2])])
def test_slice_matches_torch(dtype, axis, points):
    x = RNG.normal(size=X).astype(dtype)
    n = len(points) + 1 if points else 3
    layer, bottom, top = make_layer("Slice", {"axis": axis, "slice_point": points}, [x],
                                    num_top=n, dtype=dtype)
    ys = forward(layer, bottom, top)
    dys = [RNG.normal(size=y.shape).astype(dtype) for y in ys]
    (dx,), _ = backward(layer, bottom, top, dys)
    tx = to_torch(x)
    edges = [0] + points + [X[axis]] if points else list(range(0, X[axis] + 1, X[axis] // 3))
    tys = torch.split(tx, [b - a for a, b in zip(edges, edges[1:])], dim=axis)
    torch.autograd.backward(tys, [torch.tensor(d) for d in dys])
    for y, ty in zip(ys, tys):
        np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(dx, tx.grad.numpy())


def test_slice_shape_errors():
    with pytest.raises(ShapeError, match=r"6 entries, not divisible into 4"):
        make_layer("Slice", {}, [np.zeros(X)], num_top=4)
    with pytest.raises(ShapeError, match=r"slice_point \[2, 6\] must lie inside \(0, 6\)"):
        make_layer("Slice", {"slice_point": [2, 6]}, [np.zeros(X)], num_top=3)
    with pytest.raises(ShapeError, match="1 slice_point value.*3 tops"):
        make_layer("Slice", {"slice_point": [2]}, [np.zeros(X)], num_top=3)
    with pytest.raises(ConfigError, match="must increase"):
        make_layer("Slice", {"slice_point": [3, 2]}, [np.zeros(X)], num_top=3)


def test_slice_accepts_caffes_slice_dim():
    layer, bottom, top = make_layer("Slice", {"slice_dim": 2, "slice_point": [1]},
                                    [np.zeros(X)], num_top=2)
    assert [t.shape for t in top] == [(2, 6, 1, 3), (2, 6, 1, 3)]
