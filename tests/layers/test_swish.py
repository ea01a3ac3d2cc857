import numpy as np
import pytest

from .activation_checks import check_in_place, compare_with_torch
from .harness import DTYPES, check_gradient, make_layer, torch


def inputs():
    x = np.random.default_rng(0).normal(scale=2, size=(2, 3, 5))
    x[0, 0, :2] = [-100, 100]
    return x


@pytest.mark.parametrize("beta", [1.0, 2.5])
def test_swish_gradient(beta):
    layer, bottom, top = make_layer("Swish", {"beta": beta}, [inputs()])
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
def test_swish_beta_one_is_silu(dtype):
    compare_with_torch("Swish", {}, inputs(), torch.nn.functional.silu, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_swish_with_beta_matches_torch(dtype):
    compare_with_torch("Swish", {"beta": 0.7}, inputs(), lambda t: t * torch.sigmoid(0.7 * t),
                       dtype)


def test_swish_in_place():
    check_in_place("Swish", {"beta": 1.5}, inputs())
