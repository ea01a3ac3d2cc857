import numpy as np
import pytest

from .activation_checks import compare_with_torch
from .harness import DTYPES, check_gradient, make_layer, torch


def inputs():
    x = np.random.default_rng(0).normal(size=(2, 3, 5))
    x[np.abs(x) < 0.02] = 0.5
    return x


def test_absval_gradient():
    layer, bottom, top = make_layer("AbsVal", {}, [inputs()])
    check_gradient(layer, bottom, top, kink=0.0, kink_range=0.01)


@pytest.mark.parametrize("dtype", DTYPES)
def test_absval_matches_torch(dtype):
    x = inputs()
    x[0, 0, 0] = 0.0                      # sign(0) = 0, as torch.abs's gradient
    compare_with_torch("AbsVal", {}, x, torch.abs, dtype)


def test_absval_not_in_place():
    from layerflow.registry import get_layer_class
    assert not get_layer_class("AbsVal").in_place
