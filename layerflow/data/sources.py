"""Record sources for the data layers: each gives `len(source)` records of fixed shapes
(`shapes`, one per output: data, label, ...) and copies a batch of them by index (`fetch`).

In-memory sources (MNIST, CIFAR-10, NPZ, HDF5, arrays from Python) gather with one Numba
kernel; streaming sources (image files, LMDB) decode record by record. Every error names
the file and the record (`where(i)`).
"""
import bisect
import zipfile
from pathlib import Path

import numpy as np

from ..kernels.cpu.data import gather_rows
from . import DataFileError, data_root
from .mnist import check_regular


class Source:
    """Base class: `shapes`, `__len__`, `fetch(index, outs)`, `where(i)`."""
    shapes = ()
    path = "?"

    def __len__(self):
        raise NotImplementedError

    def fetch(self, index, outs):
        """Copy records `index` (int64 array) into `outs[j]` (len(index), *shapes[j])."""
        raise NotImplementedError

    def where(self, i):
        return f"{self.path}, record {i}"


class ArraySource(Source):
    """Records held as arrays (N, ...) in memory; `parts` [(file, n)] say which file holds
    which rows, for error messages."""

    def __init__(self, arrays, path="<arrays>", parts=None):
        arrays = [np.ascontiguousarray(a) for a in arrays]
        n = len(arrays[0])
        for a in arrays[1:]:
            if len(a) != n:
                raise DataFileError(f"{path}: arrays of {n} and {len(a)} records do not pair "
                                    "up (every array needs one row per record)")
        self.arrays = arrays
        self.flat = [a.reshape(n, -1) if a.ndim > 1 else a.reshape(n, 1) for a in arrays]
        self.shapes = [a.shape[1:] for a in arrays]
        self.path = path
        self.parts = parts or [(path, n)]
        self.starts = np.cumsum([0] + [k for _, k in self.parts]).tolist()

    def __len__(self):
        return len(self.arrays[0])

    def fetch(self, index, outs):
        for src, out in zip(self.flat, outs):
            gather_rows(src, index, out.reshape(len(index), -1))

    def where(self, i):
        part = bisect.bisect_right(self.starts, i) - 1
        return f"{self.parts[part][0]}, record {i - self.starts[part]}"


def _labels_in_range(labels, num_classes, source, file_of=None):
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if bad.size:
        i = int(bad[0])
        raise DataFileError(f"{source.where(i)}: label {labels[i]} outside 0..{num_classes - 1}")


# -- CIFAR-10 (binary version) ----------------------------------------------------------------
CIFAR10_FILES = {"train": [f"data_batch_{i}.bin" for i in range(1, 6)],
                 "test": ["test_batch.bin"]}
CIFAR10_RECORD = 1 + 3 * 32 * 32


def cifar10_source(split, folder=None):
    """The CIFAR-10 binary files of `split` as a source of (3, 32, 32) uint8 images and labels.

    Each record is 1 label byte and 3072 pixel bytes (R, G, B planes of 32 x 32)."""
    folder = Path(folder) if folder else data_root() / "cifar10"
    if not (folder / CIFAR10_FILES[split][0]).exists() and \
            (folder / "cifar-10-batches-bin").is_dir():
        folder = folder / "cifar-10-batches-bin"
    names = CIFAR10_FILES[split]
    missing = [n for n in names if not (folder / n).exists()]
    if missing:
        raise DataFileError(f"CIFAR-10 ({split}) not found in {folder}: missing "
                            f"{', '.join(missing)}; unpack cifar-10-binary.tar.gz there "
                            "(https://www.cs.toronto.edu/~kriz/cifar.html) or set "
                            "LAYERFLOW_DATA to the folder that holds 'cifar10/'")
    chunks, parts = [], []
    for name in names:
        path = folder / name
        check_regular(path)
        raw = np.fromfile(path, np.uint8)
        if raw.size % CIFAR10_RECORD:
            whole = raw.size // CIFAR10_RECORD
            raise DataFileError(f"{path}: {raw.size} bytes is not a whole number of "
                                f"{CIFAR10_RECORD}-byte records; record {whole} is "
                                "truncated")
        chunks.append(raw.reshape(-1, CIFAR10_RECORD))
        parts.append((str(path), len(chunks[-1])))
    raw = np.concatenate(chunks)
    images = raw[:, 1:].reshape(-1, 3, 32, 32)
    labels = raw[:, 0].copy()
    source = ArraySource([images, labels], str(folder), parts)
    _labels_in_range(labels, 10, source)
    return source


# -- NPZ ------------------------------------------------------------------------------------
def npz_source(path, keys):
    """Named arrays of an .npz file (no pickle), one per top. Each array's header is checked
    before it is inflated (io/weights.load_npz), and arrays not named are not read."""
    from ..io.weights import WeightsFileError, load_npz
    path = Path(path)
    if not path.exists():
        raise DataFileError(f"{path}: file not found")
    try:
        arrays = load_npz(path, only=tuple(keys))
    except WeightsFileError as exc:
        raise DataFileError(str(exc).replace("not a valid .npz/zip file",
                                            "not a readable .npz file")) from None
    missing = [k for k in keys if k not in arrays]
    if missing:
        try:
            with zipfile.ZipFile(path) as z:
                held = [n[:-4] if n.endswith(".npy") else n for n in z.namelist()]
        except (zipfile.BadZipFile, OSError):
            held = []
        raise DataFileError(f"{path}: no array named {', '.join(map(repr, missing))} "
                            f"(it holds {', '.join(held) or 'nothing'})")
    return ArraySource([arrays[k] for k in keys], str(path))


# -- HDF5 -----------------------------------------------------------------------------------
def _hdf5_files(source):
    source = Path(source)
    if not source.exists():
        raise DataFileError(f"{source}: file not found")
    if source.suffix in (".h5", ".hdf5"):
        return [source]
    files = []
    for line in source.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            p = Path(line)
            files.append(p if p.is_absolute() or p.exists() else source.parent / p)
    if not files:
        raise DataFileError(f"{source}: the list of HDF5 files is empty")
    return files


def hdf5_source(source, datasets):
    """Caffe's HDF5Data: `source` lists .h5 files (one per line), each holding the datasets
    `datasets` (N, ...) with equal N; files are read into memory and concatenated."""
    try:
        import h5py
    except ImportError:
        raise DataFileError("HDF5Data needs the h5py package: pip install h5py") from None
    arrays, parts = [[] for _ in datasets], []
    for path in _hdf5_files(source):
        try:
            with h5py.File(path, "r") as f:
                missing = [d for d in datasets if d not in f]
                if missing:
                    raise DataFileError(f"{path}: no dataset {', '.join(map(repr, missing))} "
                                        f"(it holds {', '.join(f.keys()) or 'nothing'})")
                got = [f[d][()] for d in datasets]
        except OSError as exc:
            raise DataFileError(f"{path}: not a readable HDF5 file (truncated or corrupt: "
                                f"{exc})") from None
        n = len(got[0])
        for d, a in zip(datasets, got):
            if len(a) != n:
                raise DataFileError(f"{path}: dataset '{d}' has {len(a)} records, "
                                    f"'{datasets[0]}' has {n}")
        for j, (d, a) in enumerate(zip(datasets, got)):
            if arrays[j] and a.shape[1:] != arrays[j][0].shape[1:]:
                raise DataFileError(f"{path}: dataset '{d}' has records of shape "
                                    f"{list(a.shape[1:])}, {parts[0][0]} has "
                                    f"{list(arrays[j][0].shape[1:])}")
            arrays[j].append(a)
        parts.append((str(path), n))
    joined = [np.concatenate(a) if len(a) > 1 else a[0] for a in arrays]
    return ArraySource(joined, str(source), parts)
