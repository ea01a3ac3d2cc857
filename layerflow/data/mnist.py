"""MNIST in the IDX format (gzipped or not): `load_mnist(split)` -> (images, labels).

Images come back as uint8 (N, 784) and labels as uint8 (N,); files are looked up under
`$LAYERFLOW_DATA/mnist/` (or a folder given as `source`) and read once per process.
"""
import gzip
from pathlib import Path

import numpy as np

from . import DataFileError, data_root

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_CACHE = {}


def _find(folder, stem):
    for name in (stem + ".gz", stem):
        if (folder / name).exists():
            return folder / name
    return None


def missing_message(folder):
    names = ", ".join(f"{s}.gz" for pair in FILES.values() for s in pair)
    return (f"MNIST not found in {folder}: put the four files {names} (gzipped or not) "
            f"there (`layerflow data fetch mnist` downloads them), or set LAYERFLOW_DATA to "
            f"the folder that holds 'mnist/'")


def read_idx(path):
    """Parse one IDX file (magic 0x00000801 labels / 0x00000803 images) into a uint8 array."""
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DataFileError(f"{path}: cannot be read ({exc})") from None
    if len(raw) < 8 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataFileError(f"{path}: not an IDX file of unsigned bytes (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim < 1 or len(raw) < header:
        raise DataFileError(f"{path}: IDX header truncated")
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        record = int(np.prod(dims[1:]))
        where = (f"; record {(len(raw) - header) // record} of {dims[0]} is incomplete"
                 if len(raw) < expected and record else "")
        raise DataFileError(f"{path}: expected {expected} bytes for shape {list(dims)}, "
                            f"found {len(raw)} (truncated or corrupt){where}")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def load_mnist(split, source=None, auto_download=True, layer=None):
    """(images uint8 (N, 784), labels uint8 (N,)) of the 'train' or 'test' split. With no
    `source` and the files missing, they are fetched into `$LAYERFLOW_DATA/mnist` first
    (unless `auto_download` is false or `$LAYERFLOW_OFFLINE` is set: data/fetch.py)."""
    folder = Path(source) if source else data_root() / "mnist"
    key = (str(folder.resolve()), split)
    if key not in _CACHE:
        stems = FILES[split]
        paths = [_find(folder, s) for s in stems]
        if None in paths and not source:
            from .fetch import ensure_dataset
            ensure_dataset("mnist", folder, auto_download=auto_download, layer=layer)
            paths = [_find(folder, s) for s in stems]
        if None in paths:
            raise DataFileError(missing_message(folder))
        images, labels = read_idx(paths[0]), read_idx(paths[1])
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataFileError(f"{paths[0]} and {paths[1]}: shapes {list(images.shape)} and "
                                f"{list(labels.shape)} do not pair up as images and labels")
        if labels.max(initial=0) > 9:
            bad = int(np.argmax(labels > 9))
            raise DataFileError(f"{paths[1]}: record {bad}: label {labels[bad]} outside 0..9")
        _CACHE[key] = (np.ascontiguousarray(images.reshape(len(images), -1)), labels)
    return _CACHE[key]
