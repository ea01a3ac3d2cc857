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
