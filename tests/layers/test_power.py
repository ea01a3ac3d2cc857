import numpy as np
import pytest

from .activation_checks import compare_with_torch
from .harness import DTYPES, backward, check_gradient, forward, make_layer, torch

CASES = [
    {"power": 2.0, "scale": 0.5, "shift": 1.0},
    {"power": 1.0, "scale": -3.0, "shift": 0.5},
    {"power": 3.0, "scale": 1.0, "shift": 0.0},
    {"power": 0.5, "scale": 2.0, "shift": 12.0},     # sqrt of a positive base
    {"power": -0.5, "scale": 1.5, "shift": 10.0},
    {"power": -1.5, "scale": 1.0, "shift": 9.0},
]


def inputs():
    return np.random.default_rng(0).normal(scale=2, size=(2, 3, 4))


@pytest.mark.parametrize("params", CASES)
def test_power_gradient(params):
    layer, bottom, top = make_layer("Power", params, [inputs()])
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("params", CASES)
def test_power_matches_torch(dtype, params):
    p, a, b = params["power"], params["scale"], params["shift"]
    compare_with_torch("Power", params, inputs(), lambda t: torch.pow(b + a * t, p), dtype)


@pytest.mark.parametrize("params,value", [({"power": 0.0, "shift": 3.0}, 1.0),
                                          ({"power": 2.0, "scale": 0.0, "shift": 3.0}, 9.0)])
def test_power_constant_output_has_no_gradient(params, value):
    layer, bottom, top = make_layer("Power", params, [inputs()])
    (y,) = forward(layer, bottom, top)
    (dx,), _ = backward(layer, bottom, top, [np.ones_like(y)])
    assert np.all(y == value) and not dx.any()
