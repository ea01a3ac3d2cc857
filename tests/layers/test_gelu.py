import numpy as np
import pytest

from .activation_checks import compare_with_torch
from .harness import DTYPES, check_gradient, make_layer, torch


def inputs():
    x = np.random.default_rng(0).normal(scale=2, size=(2, 3, 5))
    x[0, 0, :2] = [-30, 30]
    return x


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_gradient(approximate):
    layer, bottom, top = make_layer("GELU", {"approximate": approximate}, [inputs()])
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_torch(dtype, approximate):
    compare_with_torch("GELU", {"approximate": approximate}, inputs(),
                       lambda t: torch.nn.functional.gelu(t, approximate=approximate), dtype)


def test_gelu_forms_differ():
    x = np.array([1.0, -1.0])
    exact = make_layer("GELU", {}, [x])
    approx = make_layer("GELU", {"approximate": "tanh"}, [x])
    for layer, bottom, top in (exact, approx):
        layer.forward(bottom, top)
    assert 0 < abs(exact[2][0].data[0] - approx[2][0].data[0]) < 1e-3
