"""Datasets and their readers (the data layers live in layerflow/layers).

Sources (MNIST IDX, CIFAR-10 binary, NPZ, HDF5, image folders and list files, LMDB of Caffe
Datums, arrays from Python) hand records to one batch pipeline (`pipeline.py`): per-epoch
shuffling from the layer's seed, sharding, transforms (`transforms.py`), a prefetch thread,
and a cursor that snapshots and resumes exactly. See docs/data.md.
"""
import os
from pathlib import Path


class DataFileError(ValueError):
    """A dataset file that is missing, truncated or not what it claims; names the file."""


def data_root():
    """`$LAYERFLOW_DATA`, or ~/.cache/layerflow: one folder per dataset below it."""
    return Path(os.environ.get("LAYERFLOW_DATA") or Path.home() / ".cache" / "layerflow")
