"""Caffe `.caffemodel` weights: read into layerflow's `{layer}/{index}` arrays, and written
back (no protobuf dependency: the wire format is decoded by `layerflow/data/protobuf.py`).

A `.caffemodel` is a binary `NetParameter`. Its layers are `layer` records (field 100,
`LayerParameter`: 1 name, 2 type, 3 bottom, 4 top, 7 blobs) or, in files older than 2015,
`layers` records (field 2, `V1LayerParameter`: 4 name, 5 type as an enum, 2 bottom, 3 top,
6 blobs; the oldest wrap a `V0LayerParameter` in field 1: 1 name, 2 type, 50 blobs). Each
blob is a `BlobProto` (see protobuf.py), shaped by `shape` or by the legacy num / channels /
height / width.

Mapping, as Caffe's `Net::CopyTrainedLayersFrom` does it: a layer of the net takes the blobs
of the file's layer of the same name, in Caffe's order (layerflow's layouts are Caffe's:
Convolution `(out, in / group, kh, kw)` + bias, InnerProduct `(out, in)` + bias,
Deconvolution `(in, out / group, kh, kw)`, BatchNorm's running mean sum, variance sum and
moving-average factor (stored as Caffe stores them: the layer divides by the factor), Scale's
gamma and beta). Shapes must match; a legacy 4-D blob matches a target whose shape, padded
with leading 1s to 4-D, is the same (Caffe's `ShapeEquals`), and a shape that differs from the
target only by axes of size 1 is accepted too (converted models write `(1, C, 1, 1)` for
`(C,)`). A different number of blobs or a different shape is refused, naming the layer, the
blob and both shapes. File layers the net does not have are skipped (Caffe does the same);
net layers the file does not have keep their fillers.
"""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.protobuf import WireError, Writer, decode_blob, encode_blobproto, fields
from .weights import WeightsFileError

V1_ENUM = {
    0: "None", 35: "AbsVal", 1: "Accuracy", 30: "ArgMax", 2: "BNLL", 3: "Concat",
    37: "ContrastiveLoss", 4: "Convolution", 5: "Data", 39: "Deconvolution", 6: "Dropout",
    32: "DummyData", 7: "EuclideanLoss", 25: "Eltwise", 38: "Exp", 8: "Flatten",
    9: "HDF5Data", 10: "HDF5Output", 28: "HingeLoss", 11: "Im2col", 12: "ImageData",
    13: "InfogainLoss", 14: "InnerProduct", 15: "LRN", 29: "MemoryData",
    16: "MultinomialLogisticLoss", 34: "MVN", 17: "Pooling", 26: "Power", 18: "ReLU",
    19: "Sigmoid", 27: "SigmoidCrossEntropyLoss", 36: "Silence", 20: "Softmax",
    21: "SoftmaxWithLoss", 22: "Split", 33: "Slice", 23: "TanH", 24: "WindowData",
    31: "Threshold",
}


@dataclass
class CaffeBlob:
    data: np.ndarray
    legacy: tuple | None = None      # (num, channels, height, width) of an old-style blob


@dataclass
class CaffeLayer:
    name: str
    type: str
    blobs: list = field(default_factory=list)
    bottom: list = field(default_factory=list)
    top: list = field(default_factory=list)


# -- reading -------------------------------------------------------------------------------
def read_caffemodel(path):
    """The layers of a `.caffemodel` (with or without blobs), in file order."""
    path = Path(path)
    if not path.exists():
        raise WeightsFileError(f"{path}: no such file")
    buf = path.read_bytes()
    try:
        return parse_caffemodel(buf)
    except WireError as exc:
        raise WeightsFileError(f"{path}: not a Caffe .caffemodel (binary NetParameter): "
                               f"{exc}") from None


def parse_caffemodel(buf):
    """The layers of the serialized NetParameter `buf`; WireError when it is not one."""
    if not buf:
        raise WireError("the file is empty")
    layers = []
    for number, wire, value in fields(buf):
        if number == 100 and wire == 2:
            layers.append(_layer_v2(value))
        elif number == 2 and wire == 2:
            layers.append(_layer_v1(value))
        elif number in (1, 3) and wire != 2:
            raise WireError(f"field {number} has wire type {wire}, a NetParameter has text")
    return layers


def _text(value):
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("a layer name or type is not UTF-8 text") from None


def _blob(value, where):
    try:
        data, legacy = decode_blob(value)
    except WireError as exc:
        raise WireError(f"{where}: {exc}") from None
    return CaffeBlob(data, legacy)


def _layer_v2(buf):
    layer = CaffeLayer("", "")
    blobs = []
    for number, wire, value in fields(buf):
        if wire != 2:
            continue
        if number == 1:
            layer.name = _text(value)
        elif number == 2:
            layer.type = _text(value)
        elif number == 3:
            layer.bottom.append(_text(value))
        elif number == 4:
            layer.top.append(_text(value))
        elif number == 7:
            blobs.append(value)
    layer.blobs = [_blob(b, f"layer '{layer.name}' blob {i}") for i, b in enumerate(blobs)]
    return layer


def _layer_v1(buf):
    layer = CaffeLayer("", "")
    blobs = []
    for number, wire, value in fields(buf):
        if number == 4 and wire == 2:
            layer.name = _text(value)
        elif number == 5 and wire == 0:
            layer.type = V1_ENUM.get(value, f"V1 type {value}")
        elif number == 2 and wire == 2:
            layer.bottom.append(_text(value))
        elif number == 3 and wire == 2:
            layer.top.append(_text(value))
        elif number == 6 and wire == 2:
            blobs.append(value)
        elif number == 1 and wire == 2:                    # V0LayerParameter inside
            for n, w, v in fields(value):
                if n == 1 and w == 2:
                    layer.name = _text(v)
                elif n == 2 and w == 2:
                    layer.type = _text(v)
                elif n == 50 and w == 2:
                    blobs.append(v)
    layer.blobs = [_blob(b, f"layer '{layer.name}' blob {i}") for i, b in enumerate(blobs)]
    return layer


# -- mapping onto a net ---------------------------------------------------------------------
def _fits(blob, shape):
    """Whether a file blob may fill a target of `shape` (see the module docstring)."""
    if blob.data.shape == tuple(shape):
        return True
    if blob.legacy is not None and len(shape) <= 4 \
            and (1,) * (4 - len(shape)) + tuple(shape) == blob.legacy:
        return True
    squeeze = lambda s: tuple(d for d in s if d != 1)          # noqa: E731
    return blob.data.size == int(np.prod(shape)) and squeeze(blob.data.shape) == squeeze(shape)


def weights_for_net(net, layers, file="<caffemodel>"):
    """`{layer}/{index}` -> array (in the net's dtype) for every net layer with learnable
    blobs that the file has; returns (arrays, notes). Raises WeightsFileError on a blob count
    or shape that does not fit."""
    by_name = {}
    for layer in layers:
        if layer.blobs:
            by_name.setdefault(layer.name, layer)
    arrays, notes, used = {}, [], set()
    for layer in net.layers:
        if not layer.blobs:
            continue
        src = by_name.get(layer.name)
        if src is None:
            notes.append(f"layer '{layer.name}' is not in {file}; it keeps its fillers")
            continue
        used.add(layer.name)
        if len(src.blobs) != len(layer.blobs):
            raise WeightsFileError(
                f"{file}: layer '{layer.name}' has {len(src.blobs)} blob(s), layerflow's "
                f"{layer.type_name} '{layer.name}' has {len(layer.blobs)} "
                f"({', '.join(str(list(b.shape)) for b in layer.blobs)})")
        for i, (blob, target) in enumerate(zip(src.blobs, layer.blobs)):
            if not _fits(blob, target.shape):
                theirs = list(blob.legacy) if blob.legacy else list(blob.data.shape)
                raise WeightsFileError(
                    f"{file}: layer '{layer.name}' blob {i}: the caffemodel has shape "
                    f"{theirs}, layerflow's {layer.type_name} expects {list(target.shape)}")
            arrays[f"{layer.name}/{i}"] = blob.data.reshape(target.shape).astype(
                target.data.dtype)
    skipped = [name for name in by_name if name not in used]
    if skipped:
        notes.append(f"{len(skipped)} layer(s) of {file} with weights are not in the net "
                     f"and were skipped: {', '.join(skipped[:8])}"
                     + (" ..." if len(skipped) > 8 else ""))
    return arrays, notes


def load_caffemodel_into(net, path):
    """Copy a `.caffemodel`'s weights into `net` (layers of the same name); returns notes."""
    arrays, notes = weights_for_net(net, read_caffemodel(path), str(path))
    for layer in net.layers:
        for i, blob in enumerate(layer.blobs):
            key = f"{layer.name}/{i}"
            if key in arrays:
                blob.data[...] = arrays[key]
    return notes


# -- writing --------------------------------------------------------------------------------
def encode_caffemodel(name, layers):
    """A NetParameter (V2 `layer` records) from CaffeLayer-like records."""
    net = Writer()
    if name:
        net.string(1, name)
    for layer in layers:
        rec = Writer().string(1, layer.name).string(2, layer.type)
        for b in layer.bottom:
            rec.string(3, b)
        for t in layer.top:
            rec.string(4, t)
        for blob in layer.blobs:
            rec.message(7, encode_blobproto(getattr(blob, "data", blob)))
        net.message(100, rec.bytes())
    return net.bytes()


def write_caffemodel(path, net, types=None):
    """Write the learnable blobs of `net` as a `.caffemodel` (float32 `data`), one record per
    layer with blobs; `types` maps a layer name to the Caffe type to write (default: the
    layerflow type)."""
    types = types or {}
    records = [CaffeLayer(layer.name, types.get(layer.name, layer.type_name),
                          [b.data for b in layer.blobs])
               for layer in net.layers if layer.blobs]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(encode_caffemodel(net.name, records))
    tmp.replace(path)
    return len(records)


def import_caffemodel_weights(config, caffemodel, out_yaml):
    """Build the TEST net of an imported `config`, map `caffemodel`'s blobs onto it and save
    them as `OUT.weights.npz` beside `out_yaml`; returns (path, number of arrays, notes)."""
    from ..net import Net
    from .weights import save_weights
    net = Net(config, "test")
    arrays, notes = weights_for_net(net, read_caffemodel(caffemodel), str(caffemodel))
    out = Path(out_yaml)
    path = out.with_name(out.name[:-len(out.suffix)] + ".weights.npz" if out.suffix
                         else out.name + ".weights.npz")
    save_weights(path, arrays)
    return path, len(arrays), notes
