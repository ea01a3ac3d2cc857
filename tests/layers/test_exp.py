import numpy as np
import pytest

from .activation_checks import check_in_place, compare_with_torch
from .harness import DTYPES, check_gradient, make_layer, torch

CASES = [{}, {"base": 2.0, "scale": 0.5, "shift": -1.0}, {"base": 0.5, "scale": -1.0},
         {"scale": 2.0, "shift": 0.3}]


def inputs():
    return np.random.default_rng(0).normal(size=(2, 3, 4))


@pytest.mark.parametrize("params", CASES)
def test_exp_gradient(params):
    layer, bottom, top = make_layer("Exp", params, [inputs()])
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("params", CASES)
def test_exp_matches_torch(dtype, params):
    base = params.get("base", -1.0)
    a, b = params.get("scale", 1.0), params.get("shift", 0.0)
    if base == -1:
        fn = lambda t: torch.exp(b + a * t)                       # noqa: E731
    else:
        fn = lambda t: torch.pow(torch.tensor(base, dtype=t.dtype), b + a * t)  # noqa: E731
    compare_with_torch("Exp", params, inputs(), fn, dtype)


def test_exp_in_place():
    check_in_place("Exp", {"base": 3.0, "scale": 0.5}, inputs())


@pytest.mark.parametrize("base", [0.0, -2.0])
def test_exp_bad_base_refused(base):
    from layerflow.config import ConfigError
    with pytest.raises(ConfigError, match="Exp base must be > 0"):
        make_layer("Exp", {"base": base}, [inputs()])
