"""`layerflow time --mode cuda`: layers are timed by CUDA events recorded around each one
(read after the iteration), not by the host clock, which would time only the launches."""
import numpy as np
import pytest
import yaml

from layerflow.cli import main
from layerflow.timing import time_net

from .test_lenet_parity import NET

pytestmark = pytest.mark.cuda


def _simulated():
    from numba import config
    return bool(config.ENABLE_CUDASIM)


def test_time_cuda_uses_events(tmp_path, capsys):
    cfg = tmp_path / "net.yaml"
    cfg.write_text(NET)
    report = time_net(yaml.safe_load(NET), iterations=2, mode="cuda")
    assert report.clock == "CUDA events"
    for layer in report.layers:
        times = [layer.forward_ms] + ([layer.backward_ms] if layer.backward_ms is not None
                                      else [])
        for t in times:
            assert t.shape == (2,)
            if _simulated():       # the simulator's events report -1 ms: they, not a clock
                np.testing.assert_array_equal(t, -1.0)
            else:
                assert (t >= 0).all()
    assert report.layers[1].backward_ms is not None           # conv1 was timed both ways
    assert main(["time", str(cfg), "--mode", "cuda", "--iterations", "1"]) == 0
    assert "layers timed by CUDA events" in capsys.readouterr().out


def test_time_cpu_uses_the_host_clock():
    report = time_net(yaml.safe_load(NET), iterations=2, mode="cpu")
    assert report.clock == "host clock"
    assert all((l.forward_ms > 0).all() for l in report.layers[1:])
