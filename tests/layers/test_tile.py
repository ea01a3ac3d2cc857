import numpy as np
import pytest

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("axis,tiles", [(1, 3), (0, 2), (-1, 4)])
def test_tile_gradient(axis, tiles):
    layer, bottom, top = make_layer("Tile", {"axis": axis, "tiles": tiles},
                                    [RNG.normal(size=(2, 3, 2))])
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis,tiles", [(1, 3), (2, 2), (0, 1)])
def test_tile_matches_torch(dtype, axis, tiles):
    x = RNG.normal(size=(2, 3, 4)).astype(dtype)
    layer, bottom, top = make_layer("Tile", {"axis": axis, "tiles": tiles}, [x], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    dy = RNG.normal(size=y.shape).astype(dtype)
    (dx,), _ = backward(layer, bottom, top, [dy])
    reps = [1, 1, 1]
    reps[axis] = tiles
    tx = to_torch(x)
    ty = torch.tile(tx, reps)
    ty.backward(torch.tensor(dy))
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_allclose(dx, tx.grad.numpy(), *tol(dtype))
