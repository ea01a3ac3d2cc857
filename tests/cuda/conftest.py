"""The CUDA kernel tests run on a real GPU where there is one and in Numba's CUDA simulator
elsewhere. The simulator is chosen by NUMBA_ENABLE_CUDASIM=1, which numba reads when it is
first imported (and again on reload_config), and which must be set before `numba.cuda` is:
so the GPU is detected here without importing numba.cuda (a driver device node or
nvidia-smi on the PATH), and a user's own NUMBA_ENABLE_CUDASIM is left alone."""
import os
import shutil
import sys

import numpy as np
import pytest


def _has_gpu():
    return os.path.exists("/dev/nvidia0") or shutil.which("nvidia-smi") is not None


if "NUMBA_ENABLE_CUDASIM" not in os.environ and not _has_gpu():
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    if "numba" in sys.modules:
        if "numba.cuda" in sys.modules and not sys.modules["numba"].config.ENABLE_CUDASIM:
            raise RuntimeError("numba.cuda was imported before tests/cuda/conftest.py could "
                               "enable the simulator: something imports it in CPU mode")
        sys.modules["numba"].core.config.reload_config()


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def _record_launches(path):
    """tools/cuda_ptx_check.py: while the simulator runs the tests, write each kernel launch's
    module, name and argument types (one JSON line per new signature) to `path`, so that
    every launched signature can then be compiled for a real GPU (PTX, through NVVM)."""
    import json

    from numba.cuda.simulator.kernel import FakeCUDAKernel

    seen = set()
    launch = FakeCUDAKernel.__call__

    def describe(a):
        if hasattr(a, "dtype") and hasattr(a, "ndim") and getattr(a, "ndim", 0) > 0:
            return ["array", str(a.dtype), int(a.ndim)]
        if isinstance(a, (bool, np.bool_)):
            return ["bool"]
        if isinstance(a, np.generic):
            return ["scalar", str(a.dtype)]
        return ["scalar", "int64" if isinstance(a, int) else "float64"]

    def recording(self, *args):
        fn = self.fn
        if not self._device:
            key = [fn.__module__, fn.__qualname__, [describe(a) for a in args]]
            if "<locals>" in fn.__qualname__:      # a kernel made per dtype by a factory
                key.append({v: str(c.cell_contents) for v, c in
                            zip(fn.__code__.co_freevars, fn.__closure__ or ())
                            if v == "nt"})
            text = json.dumps(key)
            if text not in seen:
                seen.add(text)
                with open(path, "a") as f:
                    f.write(text + "\n")
        return launch(self, *args)

    FakeCUDAKernel.__call__ = recording


if os.environ.get("LAYERFLOW_CUDA_SIGNATURES") and os.environ.get("NUMBA_ENABLE_CUDASIM"):
    _record_launches(os.environ["LAYERFLOW_CUDA_SIGNATURES"])
