import numpy as np
import pytest

from .activation_checks import compare_with_torch
from .harness import DTYPES, check_gradient, forward, make_layer, torch


def inputs():
    x = np.random.default_rng(0).normal(scale=3, size=(2, 3, 5))
    x[0, 0, :4] = [-800, 800, -40, 40]     # exp(800) would overflow
    return x


def test_bnll_gradient():
    layer, bottom, top = make_layer("BNLL", {}, [inputs()])
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bnll_matches_torch_softplus(dtype):
    # softplus returns x itself above its threshold (20), which BNLL matches to rounding
    y, dx = compare_with_torch("BNLL", {}, inputs(), torch.nn.functional.softplus, dtype)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))


def test_bnll_keeps_small_values():
    layer, bottom, top = make_layer("BNLL", {}, [np.array([-40.0, 40.0])])
    (y,) = forward(layer, bottom, top)
    np.testing.assert_allclose(y, [np.exp(-40.0), 40.0], rtol=1e-14)
