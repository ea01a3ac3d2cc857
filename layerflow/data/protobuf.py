"""Caffe's protobuf records, decoded from the wire format by hand (no protobuf dependency).

`Datum` (what convert_imageset / convert_mnist_data write into LMDBs):
    1 channels, 2 height, 3 width (varint), 4 data (bytes, C x H x W uint8),
    5 label (varint int32), 6 float_data (repeated float, packed or not),
    7 encoded (bool: `data` is a JPEG/PNG file).
`BlobProto` (mean files, `.binaryproto`, the weights of a `.caffemodel`): 1 num,
    2 channels, 3 height, 4 width, 5 data (repeated float), 7 shape (BlobShape: 1 dim,
    repeated int64), 8 double_data.
The `.caffemodel` reader (`NetParameter`) is in `layerflow/io/caffemodel.py`; it uses
`fields` and `decode_blob` from here. The encoder at the end (`Writer`, `encode_blobproto`)
writes the few records a `.caffemodel` needs.
"""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import DataFileError


class WireError(ValueError):
    """Bytes that are not a valid protobuf message."""


def _varint(buf, pos):
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise WireError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint longer than 10 bytes")


def fields(buf):
    """Yield (field number, wire type, value) of a message: ints for varint/fixed, bytes for
    length-delimited fields."""
    buf = memoryview(buf)
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            if pos + 8 > end:
                raise WireError("truncated 64-bit field")
            value, pos = bytes(buf[pos:pos + 8]), pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            if pos + n > end:
                raise WireError(f"field {number}: {n} bytes announced, {end - pos} left")
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            if pos + 4 > end:
                raise WireError("truncated 32-bit field")
            value, pos = bytes(buf[pos:pos + 4]), pos + 4
        else:
            raise WireError(f"unsupported wire type {wire} (field {number})")
        yield number, wire, value


def _int32(v):
    v &= 0xFFFFFFFFFFFFFFFF
    return v - (1 << 64) if v >= 1 << 63 else v


def _floats(chunks, dtype):
    """Concatenate repeated float fields (packed chunks of bytes or single fixed values)."""
    if not chunks:
        return np.zeros(0, dtype)
    return np.frombuffer(b"".join(chunks), dtype).copy()


@dataclass
class Datum:
    channels: int = 0
    height: int = 0
    width: int = 0
    data: bytes = b""
    label: int = 0
    float_data: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    encoded: bool = False


def decode_datum(buf):
    """A Datum from its serialized bytes; raises WireError when they are not one."""
    d = Datum()
    floats = []
    for number, wire, value in fields(buf):
        if number == 1 and wire == 0:
            d.channels = value
        elif number == 2 and wire == 0:
            d.height = value
        elif number == 3 and wire == 0:
            d.width = value
        elif number == 4 and wire == 2:
            d.data = bytes(value)
        elif number == 5 and wire == 0:
            d.label = _int32(value)
        elif number == 6 and wire == 2:
            floats.append(bytes(value))
        elif number == 6 and wire == 5:
            floats.append(value)
        elif number == 7 and wire == 0:
            d.encoded = bool(value)
    d.float_data = _floats(floats, "<f4")
    return d


def decode_blobproto(buf):
    """A BlobProto as an array: shaped by `shape` (or num, channels, height, width)."""
    return decode_blob(buf)[0]


def decode_blob(buf):
    """A BlobProto -> (array, legacy): `legacy` is the (num, channels, height, width) of an
    old-style blob (Caffe compares those with the target's shape padded to 4-D), else None.
    Float `data` (packed or not) or `double_data` (then float64)."""
    dims, legacy, data, doubles = [], {}, [], []
    for number, wire, value in fields(buf):
        if number in (1, 2, 3, 4) and wire == 0:
            legacy[number] = value
        elif number == 5:
            data.append(bytes(value))
        elif number == 8:
            doubles.append(bytes(value))
        elif number == 7 and wire == 2:
            for n, w, v in fields(value):
                if n == 1 and w == 0:
                    dims.append(v)
                elif n == 1 and w == 2:
                    pos = 0
                    while pos < len(v):
                        d, pos = _varint(v, pos)
                        dims.append(d)
    values = _floats(doubles, "<f8") if doubles else _floats(data, "<f4")
    old = None
    if not dims:
        dims = [legacy.get(i, 1) for i in (1, 2, 3, 4)]
        old = tuple(dims)
    if int(np.prod(dims)) != values.size:
        raise WireError(f"shape {dims} holds {int(np.prod(dims))} values, the blob has "
                        f"{values.size}")
    return values.reshape(dims), old


def load_mean_file(path):
    """The mean image of a `.npy` file or a Caffe `.binaryproto`, as (C, H, W)."""
    path = Path(path)
    if not path.exists():
        raise DataFileError(f"{path}: mean file not found")
    try:
        if path.suffix == ".npy":
            mean = np.load(path, allow_pickle=False)
        else:
            mean = decode_blobproto(path.read_bytes())
    except (WireError, ValueError, OSError) as exc:
        raise DataFileError(f"{path}: not a mean file (.npy or Caffe .binaryproto): "
                            f"{exc}") from None
    mean = np.asarray(mean, np.float64)
    if mean.ndim == 4 and mean.shape[0] == 1:
        mean = mean[0]
    return mean


# -- encoding (the records a .caffemodel needs) --------------------------------------------
def _enc_varint(value):
    value &= 0xFFFFFFFFFFFFFFFF                # negative int32/int64: ten bytes, as protobuf
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


class Writer:
    """Builds one message: `varint`, `string`, `message` (bytes of an encoded message),
    `packed_floats`, `packed_varints`; `bytes()` gives the encoding."""

    def __init__(self):
        self.parts = []

    def _key(self, number, wire):
        self.parts.append(_enc_varint(number << 3 | wire))

    def varint(self, number, value):
        self._key(number, 0)
        self.parts.append(_enc_varint(int(value)))
        return self

    def length_delimited(self, number, payload):
        self._key(number, 2)
        self.parts.append(_enc_varint(len(payload)))
        self.parts.append(bytes(payload))
        return self

    def string(self, number, text):
        return self.length_delimited(number, str(text).encode("utf-8"))

    def message(self, number, payload):
        return self.length_delimited(number, payload)

    def packed_floats(self, number, values, dtype="<f4"):
        return self.length_delimited(number, np.ascontiguousarray(values, dtype).tobytes())

    def packed_varints(self, number, values):
        return self.length_delimited(number, b"".join(_enc_varint(int(v)) for v in values))

    def bytes(self):
        return b"".join(self.parts)


def encode_blobproto(array):
    """A BlobProto with `shape` and float `data` (what Caffe writes since 2015)."""
    array = np.asarray(array)
    shape = Writer().packed_varints(1, array.shape).bytes()
    return Writer().message(7, shape).packed_floats(5, array.ravel()).bytes()
