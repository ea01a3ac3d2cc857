import numpy as np
import pytest

from layerflow.config import ConfigError
from layerflow.layer import ShapeError

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch

RNG = np.random.default_rng(0)
X = (2, 3, 2, 3)


def close(ours, theirs, dtype):
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(ours, theirs, rtol=10 * rtol, atol=10 * atol)


def distinct_inputs(k, dtype=np.float64):
    """k arrays whose elements differ by at least 0.05 (MAX's gradient has a kink at ties)
    and are not 0 (PROD's unstable gradient divides by them)."""
    base = RNG.permutation(k * int(np.prod(X))).reshape((k,) + X) * 0.05 - 1.025
    return [base[i].astype(dtype) for i in range(k)]


@pytest.mark.parametrize("params,k", [
    ({}, 2), ({"coeff": [0.5, -2.0, 3.0]}, 3),
    ({"operation": "PROD"}, 3), ({"operation": "PROD", "stable_prod_grad": False}, 3),
    ({"operation": "MAX"}, 3),
])
def test_eltwise_gradient(params, k):
    layer, bottom, top = make_layer("Eltwise", params, distinct_inputs(k))
    check_gradient(layer, bottom, top)


def reference(op, coeff, ts):
    if op == "SUM":
        return sum(c * t for c, t in zip(coeff, ts))
    if op == "PROD":
        out = ts[0]
        for t in ts[1:]:
            out = out * t
        return out
    return torch.stack(ts).max(dim=0).values


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op,params", [
    ("SUM", {"coeff": [1.0, -1.0, 0.25]}), ("SUM", {}), ("PROD", {}),
    ("PROD", {"stable_prod_grad": False}), ("MAX", {}),
])
def test_eltwise_matches_torch(dtype, op, params):
    xs = distinct_inputs(3, dtype)
    dy = RNG.normal(size=X).astype(dtype)
    layer, bottom, top = make_layer("Eltwise", dict(params, operation=op), xs, dtype=dtype)
    (y,) = forward(layer, bottom, top)
    dxs, _ = backward(layer, bottom, top, [dy])
    ts = [to_torch(x) for x in xs]
    ty = reference(op, params.get("coeff", [1.0] * 3), ts)
    ty.backward(torch.tensor(dy))
    close(y, ty.detach().numpy(), dtype)
    for dx, t in zip(dxs, ts):
        close(dx, t.grad.numpy(), dtype)


def test_eltwise_max_ties_go_to_the_first_bottom():
    x = np.ones((2, 3))
    layer, bottom, top = make_layer("Eltwise", {"operation": "MAX"}, [x, x, x])
    forward(layer, bottom, top)
    dxs, _ = backward(layer, bottom, top, [np.full((2, 3), 2.0)])
    np.testing.assert_array_equal(dxs[0], 2.0)
    np.testing.assert_array_equal(dxs[1], 0.0)
    np.testing.assert_array_equal(dxs[2], 0.0)


def test_eltwise_propagate_down_only_where_asked():
    xs = distinct_inputs(2)
    layer, bottom, top = make_layer("Eltwise", {}, xs)
    forward(layer, bottom, top)
    bottom[1].diff[...] = 7.0
    backward(layer, bottom, top, [np.ones(X)], propagate=[True, False])
    np.testing.assert_array_equal(bottom[0].diff, 1.0)
    np.testing.assert_array_equal(bottom[1].diff, 7.0)


def test_eltwise_shape_errors():
    with pytest.raises(ShapeError, match=r"bottom0.*\[2, 3\].*bottom1.*\[3, 2\]"):
        make_layer("Eltwise", {}, [np.zeros((2, 3)), np.zeros((3, 2))])
    with pytest.raises(ShapeError, match="2 coeff value.*3 bottoms"):
        make_layer("Eltwise", {"coeff": [1, 2]}, [np.zeros(3)] * 3)
    with pytest.raises(ConfigError, match="SUM only"):
        make_layer("Eltwise", {"operation": "MAX", "coeff": [1, 2]}, [np.zeros(3)] * 2)
    with pytest.raises(ShapeError, match="at least 2 bottom"):
        make_layer("Eltwise", {}, [np.zeros(3)])
    layer, bottom, top = make_layer("Eltwise", {}, [np.zeros(3)] * 2)
    bottom[1].reshape((4,))
    with pytest.raises(ShapeError, match=r"\[3\].*\[4\]"):
        layer.reshape(bottom, top)
