import numpy as np
import pytest

from .harness import DTYPES, forward, make_layer, torch


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("t", [0.0, 0.3])
def test_threshold_matches_torch(dtype, t):
    x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(dtype)
    x[0, 0, 0] = t                         # strictly greater: the threshold itself gives 0
    layer, bottom, top = make_layer("Threshold", {"threshold": t}, [x], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    expected = (torch.tensor(x) > t).to(torch.tensor(x).dtype).numpy()
    np.testing.assert_array_equal(y, expected)
    assert y[0, 0, 0] == 0


def test_threshold_in_place_and_no_gradient():
    x = np.random.default_rng(1).normal(size=(3, 4))
    layer, bottom, top = make_layer("Threshold", {}, [x])
    layer.forward(bottom, bottom)
    np.testing.assert_array_equal(bottom[0].data, (x > 0).astype(float))
    assert not layer.can_backprop(0)
