"""LSTM and RNN in CUDA mode against CPU mode: tops, bottom and weight diffs over two
forwards (the state carried from the first batch into the second, then reset), with a static
input and with the state exposed as bottoms and tops."""
import numpy as np
import pytest

from layerflow.runtime import Runtime
from tests.layers.harness import make_layer

pytestmark = pytest.mark.cuda

T, N, D, H = 3, 2, 3, 4
FILLER = {"type": "uniform", "min": -0.5, "max": 0.5}


def _inputs(rng, static, exposed, states):
    xs = [rng.normal(size=(T, N, D)), np.array([[0, 1], [1, 1], [1, 0]], float)]
    if static:
        xs.append(rng.normal(size=(N, 2)))
    if exposed:
        xs += [rng.normal(size=(1, N, H)) for _ in range(states)]
    return [np.asarray(a, np.float32) for a in xs]


def _run(type_name, static, exposed, runtime):
    states = 2 if type_name == "LSTM" else 1
    rng = np.random.default_rng(0)
    xs = _inputs(rng, static, exposed, states)
    params = {"num_output": H, "weight_filler": FILLER, "bias_filler": FILLER,
              "expose_hidden": exposed}
    layer, bottom, top = make_layer(type_name, params, xs, 1 + (states if exposed else 0),
                                    np.float32, runtime=runtime)
    out = []
    for step in range(3):                   # forward, forward (carried state), reset, forward
        if step == 2:
            layer.reset_state()
        layer.reshape(bottom, top)
        layer.forward(bottom, top)
        out += [t.cpu_data.copy() for t in top]
    drng = np.random.default_rng(1)
    for t in top:
        t.diff[...] = drng.normal(size=t.shape)
    for b in layer.blobs:
        b.diff[...] = 0.5
    down = [layer.can_backprop(i) for i in range(len(bottom))]
    layer.backward(top, down, bottom)
    out += [b.cpu_diff.copy() for b, d in zip(bottom, down) if d]
    out += [b.cpu_diff.copy() for b in layer.blobs]
    return out


@pytest.mark.parametrize("type_name", ["LSTM", "RNN"])
@pytest.mark.parametrize("static,exposed", [(False, False), (True, True)])
def test_recurrent_cuda_equals_cpu(type_name, static, exposed):
    want = _run(type_name, static, exposed, None)
    got = _run(type_name, static, exposed, Runtime.create(mode="cuda"))
    assert len(want) == len(got)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)
