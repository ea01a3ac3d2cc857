"""The layers that run in place (top is bottom), in CUDA mode against CPU mode: their
`_inplace` kernels and the buffers they keep on the device (PReLU's saved input, Swish's
sigmoid, Clip's mask)."""
import numpy as np
import pytest

from layerflow.runtime import Runtime
from tests.layers.harness import make_layer

pytestmark = pytest.mark.cuda

CASES = {
    "elu": ("ELU", {"alpha": 0.7}),
    "prelu": ("PReLU", {"filler": {"type": "uniform", "min": 0.1, "max": 0.4}}),
    "prelu_shared": ("PReLU", {"channel_shared": True}),
    "swish": ("Swish", {"beta": 1.5}),
    "clip": ("Clip", {"min": -0.5, "max": 0.7}),
    "exp": ("Exp", {"base": 2.0, "scale": 0.5}),
    "threshold": ("Threshold", {"threshold": 0.3}),
}


def _run(type_name, params, x, runtime):
    layer, bottom, _ = make_layer(type_name, params, [x], 1, np.float32, runtime=runtime)
    top = bottom                                   # in place
    layer.reshape(bottom, top)
    layer.forward(bottom, top)
    y = top[0].cpu_data.copy()
    top[0].diff[...] = np.random.default_rng(1).normal(size=x.shape)
    for b in layer.blobs:
        b.diff[...] = 0.5
    down = [layer.can_backprop(0)]
    layer.backward(top, down, bottom)
    return [y, bottom[0].cpu_diff.copy()] + [b.cpu_diff.copy() for b in layer.blobs]


@pytest.mark.parametrize("case", list(CASES))
def test_inplace_layer_cuda_equals_cpu(case):
    type_name, params = CASES[case]
    x = np.random.default_rng(0).normal(size=(2, 3, 7)).astype(np.float32)
    want = _run(type_name, params, x, None)
    got = _run(type_name, params, x, Runtime.create(mode="cuda"))
    assert len(want) == len(got)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)
