"""Small files for the data-layer tests, made on the spot (tests/test_data_*.py)."""
import struct

import numpy as np

from layerflow.config import Where, from_mapping
from layerflow.blob import Blob
from layerflow.registry import get_layer_class


def make_data_layer(type_name, params, num_top=2, phase="TRAIN", seed=0, dtype=np.float32):
    """(layer, tops) of a data layer set up outside a net, as the Net would."""
    cls = get_layer_class(type_name)
    p = from_mapping(cls.Params, params, Where())
    layer = cls(p, type_name.lower(), phase, None, np.random.default_rng(seed), dtype)
    top = [Blob((), dtype, name=f"top{i}") for i in range(num_top)]
    layer.setup([], top)
    layer.reshape([], top)
    return layer, top


def batches(layer, top, n):
    """The next n batches as lists of copied arrays."""
    out = []
    for _ in range(n):
        layer.reshape([], top)
        layer.forward([], top)
        out.append([t.data.copy() for t in top])
    return out


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def datum_bytes(channels, height, width, data=None, label=0, floats=None, encoded=False):
    """A Caffe Datum serialized by hand: field keys (number << 3 | wire type), varints,
    length-delimited bytes, packed little-endian floats."""
    out = varint(0x08) + varint(channels) + varint(0x10) + varint(height)
    out += varint(0x18) + varint(width)
    if data is not None:
        out += varint(0x22) + varint(len(data)) + bytes(data)
    out += varint(0x28) + varint(label)
    if floats is not None:
        raw = struct.pack(f"<{len(floats)}f", *floats)
        out += varint(0x32) + varint(len(raw)) + raw
    if encoded:
        out += varint(0x38) + varint(1)
    return out


def write_idx(path, array):
    """An IDX file of unsigned bytes (magic 0x0000080N, big-endian dims)."""
    array = np.asarray(array, np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(header + array.tobytes())
