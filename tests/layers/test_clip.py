import numpy as np
import pytest

from .activation_checks import check_in_place, compare_with_torch
from .harness import DTYPES, check_gradient, make_layer, torch


def inputs():
    x = np.random.default_rng(0).normal(scale=3, size=(2, 3, 5))
    for b in (-1.0, 2.0):
        x[np.abs(x - b) < 0.02] = 0.5      # away from the corners for the numeric check
    return x


def test_clip_gradient():
    layer, bottom, top = make_layer("Clip", {"min": -1, "max": 2}, [inputs()])
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_matches_torch(dtype):
    x = inputs()
    x[0, 0, :2] = [-1.0, 2.0]                # the bounds pass the gradient, as torch.clamp's
    compare_with_torch("Clip", {"min": -1, "max": 2}, x,
                       lambda t: torch.clamp(t, -1.0, 2.0), dtype)


def test_clip_in_place_keeps_the_exact_mask():
    x = inputs()
    x[0, 0, :2] = [-1.0, 2.0]
    check_in_place("Clip", {"min": -1, "max": 2}, x)


def test_clip_needs_min_and_max_in_order():
    from layerflow.config import ConfigError
    with pytest.raises(ConfigError, match="missing required key 'min'"):
        make_layer("Clip", {"max": 1}, [inputs()])
    with pytest.raises(ConfigError, match="Clip min 3.0 > max 1.0"):
        make_layer("Clip", {"min": 3, "max": 1}, [inputs()])
