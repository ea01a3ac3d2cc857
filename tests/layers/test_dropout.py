import numpy as np
import pytest

from .harness import backward, check_gradient, forward, make_layer


def test_dropout_gradient_with_fixed_mask():
    x = np.random.default_rng(0).normal(size=(4, 6))
    layer, bottom, top = make_layer("Dropout", {"dropout_ratio": 0.3}, [x])
    check_gradient(layer, bottom, top)


def test_dropout_inverted_scaling_keeps_the_mean():
    x = np.ones((200, 500), np.float32)
    layer, bottom, top = make_layer("Dropout", {"dropout_ratio": 0.4}, [x], dtype=np.float32)
    (y,) = forward(layer, bottom, top)
    kept = y != 0
    assert kept.mean() == pytest.approx(0.6, abs=0.01)
    np.testing.assert_allclose(y[kept], 1 / 0.6, rtol=1e-6)
    assert y.mean() == pytest.approx(1.0, abs=0.02)
    (dx,), _ = backward(layer, bottom, top, [np.ones_like(y)])
    np.testing.assert_array_equal(dx != 0, kept)


def test_dropout_is_identity_in_test_phase():
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    layer, bottom, top = make_layer("Dropout", {}, [x], dtype=np.float32, phase="TEST")
    np.testing.assert_array_equal(forward(layer, bottom, top)[0], x)


def test_dropout_seeded_runs_repeat():
    x = np.ones((10, 10), np.float32)
    masks = [forward(*make_layer("Dropout", {}, [x], dtype=np.float32, seed=5))[0]
             for _ in range(2)]
    np.testing.assert_array_equal(*masks)


def test_dropout_ratio_out_of_range_is_a_config_error():
    from layerflow.config import ConfigError
    with pytest.raises(ConfigError, match="dropout_ratio"):
        make_layer("Dropout", {"dropout_ratio": 1.0}, [np.ones(3)])
