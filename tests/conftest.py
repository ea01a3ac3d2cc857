import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# the convolution's tuning choices for test shapes stay with the tests, not in ~/.cache
os.environ.setdefault("LAYERFLOW_TUNING_DIR", str(ROOT / ".pytest_cache" / "layerflow-tuning"))


def mnist_root():
    """The folder holding mnist/ (LAYERFLOW_DATA, else ../shared/data beside the repo)."""
    for candidate in (os.environ.get("LAYERFLOW_DATA"), ROOT.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "mnist").is_dir():
            return Path(candidate)
    return None


@pytest.fixture
def mnist_data(monkeypatch):
    """Point LAYERFLOW_DATA at the MNIST files, or skip saying where they are expected."""
    root = mnist_root()
    if root is None:
        pytest.skip("MNIST not found: set LAYERFLOW_DATA to a folder holding mnist/")
    monkeypatch.setenv("LAYERFLOW_DATA", str(root))
    return root


def pytest_addoption(parser):
    parser.addoption("--long", action="store_true", default=False,
                     help="long runs of the fuzzers (tests/test_fuzz_configs.py: thousands of "
                          "cases); LAYERFLOW_FUZZ_LONG=1 does the same")
