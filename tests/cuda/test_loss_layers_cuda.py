"""Loss-layer cases that need more than tests/cuda/test_layers_cuda.py's table: InfogainLoss
with H from a file (it goes up once, at reshape) and with a bad label (named as on the CPU)."""
import numpy as np
import pytest

from layerflow.runtime import Runtime

from .test_layers_cuda import _run

pytestmark = pytest.mark.cuda


def test_infogain_source_file(tmp_path):
    rng = np.random.default_rng(0)
    h = rng.uniform(size=(4, 4))
    np.save(tmp_path / "h.npy", h)
    xs = [rng.normal(size=(3, 4)).astype(np.float32),
          rng.integers(0, 4, 3).astype(np.float32)]
    params = {"source": str(tmp_path / "h.npy")}
    want = _run("InfogainLoss", params, xs, 1, None)
    got = _run("InfogainLoss", params, xs, 1, Runtime.create(mode="cuda"))
    for w, g in zip(want, got):
        for a, b in zip(w, g):
            np.testing.assert_allclose(b, a, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("type_name", ["InfogainLoss", "HingeLoss", "MultinomialLogisticLoss"])
def test_bad_label_named(type_name):
    rng = np.random.default_rng(0)
    xs = [rng.uniform(0.1, 1, (3, 4)).astype(np.float32), np.array([1, 7, 0], np.float32)]
    if type_name == "InfogainLoss":
        xs.append(np.eye(4, dtype=np.float32))
    messages = []
    for runtime in (None, Runtime.create(mode="cuda")):
        with pytest.raises(ValueError, match="label 7 at position 1") as err:
            _run(type_name, {}, xs, 1, runtime)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
