"""LMDBs written by Caffe's convert tools: each value a serialized `Datum` (protobuf.py),
read with the lmdb package (an optional extra), in key order as Caffe reads them."""
from pathlib import Path

import numpy as np

from . import DataFileError
from .protobuf import WireError, decode_datum
from .sources import Source

_ENVS = {}      # lmdb allows one Environment per file and process: layers share it


def _open(lmdb, path):
    key = str(Path(path).resolve())
    if key not in _ENVS:
        _ENVS[key] = lmdb.open(str(path), readonly=True, lock=False, readahead=False,
                               subdir=Path(path).is_dir(), max_readers=64)
    return _ENVS[key]


class LMDBSource(Source):
    def __init__(self, path):
        try:
            import lmdb
        except ImportError:
            raise DataFileError("LMDBData needs the lmdb package: pip install lmdb") from None
        self.path = str(path)
        if not Path(path).exists():
            raise DataFileError(f"{path}: LMDB not found")
        try:
            self.env = _open(lmdb, path)
            with self.env.begin() as txn:
                self.keys = [bytes(k) for k in txn.cursor().iternext(keys=True, values=False)]
        except lmdb.Error as exc:
            raise DataFileError(f"{path}: not a readable LMDB ({exc})") from None
        if not self.keys:
            raise DataFileError(f"{path}: the LMDB holds no records")
        with self.env.begin() as txn:
            first = self.decode(txn, 0)
        self.shapes = [first[0].shape, ()]
        self.float_data = first[0].dtype != np.uint8

    def __len__(self):
        return len(self.keys)

    def decode(self, txn, i):
        """(array (C, H, W), label) of record i."""
        raw = txn.get(self.keys[i])
        if raw is None:
            raise DataFileError(f"{self.where(i)}: the key vanished from the LMDB")
        try:
            d = decode_datum(raw)
        except WireError as exc:
            raise DataFileError(f"{self.where(i)}: not a Caffe Datum ({exc})") from None
        if d.encoded:
            from .images import decode_image
            try:
                array = decode_image(d.data, is_color=d.channels != 1, bgr=True)
            except DataFileError:
                raise
            except Exception as exc:
                raise DataFileError(f"{self.where(i)}: the encoded image does not decode "
                                    f"({exc})") from None
            return array, d.label
        shape = (d.channels, d.height, d.width)
        count = d.channels * d.height * d.width
        if d.data:
            if len(d.data) != count:
                raise DataFileError(f"{self.where(i)}: {len(d.data)} data bytes for "
                                    f"channels x height x width = {list(shape)}")
            return np.frombuffer(d.data, np.uint8).reshape(shape), d.label
        if d.float_data.size != count:
            raise DataFileError(f"{self.where(i)}: {d.float_data.size} float_data values for "
                                f"channels x height x width = {list(shape)}")
        return d.float_data.reshape(shape), d.label

    def fetch(self, index, outs):
        with self.env.begin() as txn:
            for k, i in enumerate(index):
                array, label = self.decode(txn, i)
                if array.shape != self.shapes[0]:
                    raise DataFileError(f"{self.where(i)}: record of shape {list(array.shape)}, "
                                        f"the first record is {list(self.shapes[0])}")
                outs[0][k] = array
                if len(outs) > 1:
                    outs[1][k] = label

    def where(self, i):
        return f"{self.path}, record {i} (key {self.keys[i].decode(errors='replace')!r})"
