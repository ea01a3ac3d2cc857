import numpy as np
import pytest

from .activation_checks import check_in_place, compare_with_torch
from .harness import DTYPES, check_gradient, make_layer, torch


def inputs():
    x = np.random.default_rng(0).normal(scale=2, size=(2, 3, 5))
    x[np.abs(x) < 0.02] = 0.5
    x[0, 0, :2] = [-100, 100]
    return x


@pytest.mark.parametrize("alpha", [1.0, 0.3])
def test_elu_gradient(alpha):
    layer, bottom, top = make_layer("ELU", {"alpha": alpha}, [inputs()])
    check_gradient(layer, bottom, top, kink=0.0, kink_range=0.01)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [1.0, 0.3])
def test_elu_matches_torch(dtype, alpha):
    compare_with_torch("ELU", {"alpha": alpha}, inputs(),
                       lambda t: torch.nn.functional.elu(t, alpha), dtype)


def test_elu_in_place():
    check_in_place("ELU", {"alpha": 0.5}, inputs())


def test_elu_negative_alpha_refused():
    from layerflow.config import ConfigError
    with pytest.raises(ConfigError, match="alpha must be >= 0"):
        make_layer("ELU", {"alpha": -1.0}, [inputs()])
