import numpy as np
import pytest

from layerflow.config import ConfigError
from layerflow.layer import ShapeError

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch

RNG = np.random.default_rng(0)
F = torch.nn.functional


@pytest.mark.parametrize("params", [{"zoom_factor": 2}, {"shrink_factor": 2},
                                    {"height": 3, "width": 7, "pad_beg": -1, "pad_end": -1}])
def test_interp_gradient(params):
    layer, bottom, top = make_layer("Interp", params, [RNG.normal(size=(2, 2, 4, 5))])
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("params,size", [
    ({"zoom_factor": 3}, (10, 13)), ({"shrink_factor": 2}, (2, 3)),
    ({"height": 9, "width": 1}, (9, 1)), ({"zoom_factor": 2, "shrink_factor": 2}, (3, 5)),
    ({"zoom_factor": 2, "pad_beg": -1, "pad_end": 0}, (5, 7)),
    ({"height": 6, "width": 8, "pad_beg": -1, "pad_end": -1}, (6, 8)),
])
def test_interp_matches_torch(dtype, params, size):
    x = RNG.normal(size=(2, 3, 4, 5)).astype(dtype)
    layer, bottom, top = make_layer("Interp", params, [x], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    assert y.shape == (2, 3) + size
    dy = RNG.normal(size=y.shape).astype(dtype)
    (dx,), _ = backward(layer, bottom, top, [dy])
    tx = to_torch(x)
    b, e = -params.get("pad_beg", 0), 4 + params.get("pad_end", 0)
    cropped = tx[:, :, b:e, b:5 + params.get("pad_end", 0)]
    ty = F.interpolate(cropped, size=size, mode="bilinear", align_corners=True)
    ty.backward(torch.tensor(dy))
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(y, ty.detach().numpy(), 10 * rtol, 10 * atol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), 10 * rtol, 10 * atol)


def test_interp_takes_the_size_of_a_second_bottom():
    layer, bottom, top = make_layer("Interp", {}, [np.ones((1, 2, 3, 3)), np.zeros((1, 5, 7, 6))])
    (y,) = forward(layer, bottom, top)
    assert y.shape == (1, 2, 7, 6)
    np.testing.assert_allclose(y, 1.0)


def test_interp_errors():
    with pytest.raises(ConfigError, match="cropping"):
        make_layer("Interp", {"zoom_factor": 2, "pad_beg": 1}, [np.zeros((1, 1, 3, 3))])
    with pytest.raises(ShapeError, match="give zoom_factor"):
        make_layer("Interp", {}, [np.zeros((1, 1, 3, 3))])
    with pytest.raises(ShapeError, match="4-D"):
        make_layer("Interp", {"zoom_factor": 2}, [np.zeros((1, 3, 3))])
