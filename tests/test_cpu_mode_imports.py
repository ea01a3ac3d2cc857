"""CPU mode imports nothing of CUDA: numba.cuda and layerflow.kernels.cuda load only when a
runtime in mode cuda asks for its device (docs/gpu.md)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import sys
import numpy as np
from layerflow.solvers import Solver
cfg = {"solver": {"type": "Adam", "base_lr": 0.01, "max_iter": 2, "display": 0,
                  "test_interval": 0, "test_iter": 0, "snapshot": 0,
                  "snapshot_after_train": False, "snapshot_prefix": sys.argv[1]},
       "net": {"layers": [
           {"name": "in", "type": "Input", "top": ["x", "t"], "shape": [[2, 1, 6, 6], [2]]},
           {"name": "c", "type": "Convolution", "bottom": "x", "top": "c", "num_output": 2,
            "kernel_size": 3},
           {"name": "p", "type": "Pooling", "bottom": "c", "top": "p", "kernel_size": 2,
            "stride": 2},
           {"name": "d", "type": "Dropout", "bottom": "p", "top": "p"},
           {"name": "ip", "type": "InnerProduct", "bottom": "p", "top": "y", "num_output": 3},
           {"name": "loss", "type": "SoftmaxWithLoss", "bottom": ["y", "t"], "top": "loss"}]}}
s = Solver(cfg, quiet=True)
s.net.blobs["x"].data[...] = np.ones((2, 1, 6, 6))
s.step(2)
loaded = sorted(m for m in sys.modules if m.startswith(("numba.cuda", "layerflow.kernels.cuda",
                                                        "layerflow.backends.cuda")))
print(loaded)
assert not loaded, loaded
"""


def test_cpu_training_imports_no_cuda(tmp_path):
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "s")], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().endswith("[]")
