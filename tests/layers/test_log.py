import numpy as np
import pytest

from .activation_checks import compare_with_torch
from .harness import DTYPES, check_gradient, make_layer, torch

CASES = [{}, {"base": 10.0}, {"base": 2.0, "scale": 0.5, "shift": 3.0}, {"scale": -1.0, "shift": 5}]


def inputs():
    return np.random.default_rng(0).uniform(0.2, 3.0, size=(2, 3, 4))


@pytest.mark.parametrize("params", CASES)
def test_log_gradient(params):
    layer, bottom, top = make_layer("Log", params, [inputs()])
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("params", CASES)
def test_log_matches_torch(dtype, params):
    base = params.get("base", -1.0)
    a, b = params.get("scale", 1.0), params.get("shift", 0.0)
    ln_base = 1.0 if base == -1 else np.log(base)
    compare_with_torch("Log", params, inputs(), lambda t: torch.log(b + a * t) / ln_base, dtype)


@pytest.mark.parametrize("base", [1.0, 0.0])
def test_log_bad_base_refused(base):
    from layerflow.config import ConfigError
    with pytest.raises(ConfigError, match="Log base must be > 0 and not 1"):
        make_layer("Log", {"base": base}, [inputs()])
