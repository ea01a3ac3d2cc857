import numpy as np
import pytest

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch

RNG = np.random.default_rng(0)
CASES = [{}, {"across_spatial": False}, {"channel_shared": False},
         {"across_spatial": False, "channel_shared": False}]


def scaled(params):
    return dict(params, scale_filler={"type": "uniform", "min": 1, "max": 3})


@pytest.mark.parametrize("params", CASES)
def test_normalize_gradient(params):
    layer, bottom, top = make_layer("Normalize", scaled(params), [RNG.normal(size=(2, 3, 2, 2))])
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("params", CASES)
def test_normalize_matches_torch(dtype, params):
    x = RNG.normal(size=(2, 3, 4, 5)).astype(dtype)
    if not params.get("across_spatial", True):
        params = dict(params, eps=0.0)       # F.normalize divides by max(norm, eps) instead
    layer, bottom, top = make_layer("Normalize", scaled(params), [x], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    dy = RNG.normal(size=y.shape).astype(dtype)
    (dx,), (ds,) = backward(layer, bottom, top, [dy])
    tx = to_torch(x)
    ts = torch.tensor(layer.blobs[0].data, requires_grad=True)
    if params.get("across_spatial", True):
        u = tx / torch.sqrt((tx * tx).sum((1, 2, 3), keepdim=True) + 1e-10)
    else:
        u = torch.nn.functional.normalize(tx, dim=1, eps=1e-20)
    ty = u * (ts if ts.numel() == 1 else ts.view(1, -1, 1, 1))
    ty.backward(torch.tensor(dy))
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(y, ty.detach().numpy(), 10 * rtol, 10 * atol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), 10 * rtol, 10 * atol)
    np.testing.assert_allclose(ds, ts.grad.numpy(), 100 * rtol, 100 * atol)
