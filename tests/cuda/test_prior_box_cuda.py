"""PriorBox in CUDA mode: the boxes (shapes only) are made on the host when the shapes
change and go up once; later iterations move nothing and the top stays what CPU mode gives."""
import numpy as np
import pytest

from tests.fake_device import FAKE, FakeRuntime
from tests.layers.harness import make_layer

pytestmark = pytest.mark.cuda

PARAMS = {"min_size": [30.0], "max_size": [60.0], "aspect_ratio": [2.0], "step": 8}


def _boxes(runtime, iterations):
    feat, img = np.zeros((1, 2, 3, 4)), np.zeros((1, 3, 24, 32))
    layer, bottom, top = make_layer("PriorBox", PARAMS, [feat, img], 1, np.float32,
                                    runtime=runtime)
    moved = []
    for _ in range(iterations):
        before = FAKE.copies()
        layer.reshape(bottom, top)
        layer.forward(bottom, top)
        top[0].gpu_data if runtime else None          # a next layer reads it on the device
        moved.append(tuple(b - a for a, b in zip(before, FAKE.copies())))
    return top[0].cpu_data.copy(), moved


def test_prior_box_goes_up_once():
    want, _ = _boxes(None, 1)
    got, moved = _boxes(FakeRuntime(mode="cuda"), 3)
    np.testing.assert_array_equal(got, want)
    assert moved[0] == (1, 0)                          # made on the host, up once
    assert moved[1:] == [(0, 0), (0, 0)]               # then nothing per iteration
