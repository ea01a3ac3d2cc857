"""MNIST in the IDX format (gzipped or not): `load_mnist(split)` -> (images, labels).

Images come back as uint8 (N, 784) and labels as uint8 (N,); files are looked up under
`$LAYERFLOW_DATA/mnist/` (or a folder given as `source`) and read once per process.
"""
import gzip
import math
import os
import stat
import zlib
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


MAX_IDX_BYTES = 2**31        # an IDX file's declared payload; MNIST's largest is 47 MB
CHUNK = 1 << 22              # bytes read (decompressed) per step


def check_regular(path, max_bytes=MAX_IDX_BYTES):
    """A dataset file must be a regular file (a FIFO would block, a device never end) of at
    most `max_bytes` on disk."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise DataFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise DataFileError(f"{path}: not a regular file (a folder, FIFO or device?)")
    if st.st_size > max_bytes:
        raise DataFileError(f"{path}: {st.st_size:,} bytes, more than a dataset file layerflow "
                            f"reads whole ({max_bytes:,})")


def read_idx(path):
    """Parse one IDX file (magic 0x00000801 labels / 0x00000803 images) into a uint8 array.

    The header is read first and states the payload size; the payload is then read in bounded
    pieces into an array of that size, so a file (or a gzip bomb) that holds more than its
    header declares is refused after reading one piece past it, never decompressed whole."""
    path = Path(path)
    check_regular(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            return _read_idx_stream(f, path)
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataFileError(f"{path}: cannot be read ({exc})") from None


def _read_idx_stream(f, path):
    head = f.read(4)
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] != 0x08:
        raise DataFileError(f"{path}: not an IDX file of unsigned bytes (bad magic number)")
    ndim = head[3]
    raw_dims = f.read(4 * ndim)
    if ndim < 1 or len(raw_dims) < 4 * ndim:
        raise DataFileError(f"{path}: IDX header truncated")
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(raw_dims[4 * i: 4 * i + 4], "big") for i in range(ndim))
    size = math.prod(dims)
    if size > MAX_IDX_BYTES:
        raise DataFileError(f"{path}: its header declares shape {list(dims)} ({size:,} bytes), "
                            f"more than any IDX dataset layerflow reads ({MAX_IDX_BYTES:,})")
    data = np.empty(size, np.uint8)
    view, got = memoryview(data), 0
    while got < size:
        n = f.readinto(view[got:got + CHUNK]) if hasattr(f, "readinto") else 0
        if not n:
            break
        got += n
    if got < size:
        record = math.prod(dims[1:])
        where = (f"; record {got // record} of {dims[0]} is incomplete" if record else "")
        raise DataFileError(f"{path}: expected {header + size} bytes for shape {list(dims)}, "
                            f"found {header + got} (truncated or corrupt){where}")
    if f.read(1):
        raise DataFileError(f"{path}: holds more than the {header + size} bytes its header "
                            f"declares for shape {list(dims)} (corrupt, or not this dataset)")
    return data.reshape(dims)


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
