import numpy as np
import pytest

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch

RNG = np.random.default_rng(0)
F = torch.nn.functional


@pytest.mark.parametrize("params", [{}, {"scale_h": 3, "scale_w": 1},
                                    {"upsample_h": 5, "upsample_w": 7, "mode": "BILINEAR"},
                                    {"mode": "BILINEAR", "scale": 3}])
def test_upsample_gradient(params):
    layer, bottom, top = make_layer("Upsample", params, [RNG.normal(size=(2, 2, 3, 4))])
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["NEAREST", "BILINEAR"])
@pytest.mark.parametrize("params,size", [({}, (8, 10)), ({"scale": 3}, (12, 15)),
                                         ({"scale_h": 2, "scale_w": 1}, (8, 5)),
                                         ({"upsample_h": 7, "upsample_w": 11}, (7, 11))])
def test_upsample_matches_torch(dtype, mode, params, size):
    x = RNG.normal(size=(2, 3, 4, 5)).astype(dtype)
    layer, bottom, top = make_layer("Upsample", dict(params, mode=mode), [x], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    assert y.shape == (2, 3) + size
    dy = RNG.normal(size=y.shape).astype(dtype)
    (dx,), _ = backward(layer, bottom, top, [dy])
    tx = to_torch(x)
    if mode == "NEAREST":
        ty = F.interpolate(tx, size=size, mode="nearest")
    else:
        ty = F.interpolate(tx, size=size, mode="bilinear", align_corners=False)
    ty.backward(torch.tensor(dy))
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(y, ty.detach().numpy(), 10 * rtol, 10 * atol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), 10 * rtol, 10 * atol)
