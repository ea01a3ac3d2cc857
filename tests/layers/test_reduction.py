import numpy as np
import pytest

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch

RNG = np.random.default_rng(0)
OPS = ["SUM", "ASUM", "SUMSQ", "MEAN"]


def inputs(dtype=np.float64):
    x = RNG.normal(size=(2, 3, 4))
    x[np.abs(x) < 0.05] = 0.3          # ASUM's kink at 0
    return x.astype(dtype)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_reduction_gradient(op, axis):
    layer, bottom, top = make_layer("Reduction", {"operation": op, "axis": axis, "coeff": 0.7},
                                    [inputs()])
    check_gradient(layer, bottom, top)


def reference(op, t, axis, coeff):
    dims = tuple(range(axis % t.dim(), t.dim()))
    if op == "SUM":
        return coeff * t.sum(dims)
    if op == "ASUM":
        return coeff * t.abs().sum(dims)
    if op == "SUMSQ":
        return coeff * (t * t).sum(dims)
    return coeff * t.mean(dims)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("axis", [0, 2])
def test_reduction_matches_torch(dtype, op, axis):
    x = inputs(dtype)
    layer, bottom, top = make_layer("Reduction", {"operation": op, "axis": axis, "coeff": -2.0},
                                    [x], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    assert y.shape == x.shape[:axis]
    dy = RNG.normal(size=y.shape).astype(dtype)
    (dx,), _ = backward(layer, bottom, top, [dy])
    tx = to_torch(x)
    ty = reference(op, tx, axis, -2.0)
    ty.backward(torch.tensor(dy))
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(y, ty.detach().numpy(), 10 * rtol, 10 * atol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol, atol)
