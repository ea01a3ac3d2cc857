"""Datasets and their readers (the data layers live in layerflow/layers)."""
import os
from pathlib import Path


def data_root():
    """`$LAYERFLOW_DATA`, or ~/.cache/layerflow: one folder per dataset below it."""
    return Path(os.environ.get("LAYERFLOW_DATA") or Path.home() / ".cache" / "layerflow")
