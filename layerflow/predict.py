"""`layerflow predict CONFIG|MODEL --weights W INPUT... [--top K] [--json]`: classify inputs
with a trained net (Caffe's `classification` example, from the command line).

    from layerflow.predict import Predictor
    p = Predictor("lenet", "snapshots/lenet_iter_10000.weights.npz")
    for r in p.predict(["digit.png", "mnist:test[0:10]"], top=3):
        print(r.name, r.top)                  # [(class, name, probability), ...]

The deploy net is the config's TEST net with its data layer replaced by an `Input` of the
same record shape (a net that has an `Input` already keeps it), and every layer that reads
the label (accuracy, the loss) left out; the scores are the loss's input put through a
softmax, or the net's own `Softmax` output. Inputs:

- images (PNG, JPEG, ... through Pillow): grey or colour as the net's input has 1 or 3
  channels, resized to the record's height and width, then transformed as the TEST data
  layer's `transform` says (scale, mean_value, centred crop...);
- `.npy` arrays: one record (C, H, W) or a stack (N, C, H, W), values as the data layer
  reads them (before the transform);
- `mnist:test[0:10]`, `mnist:train[5]`, `cifar10:test[:100]`: records of a dataset (fetched
  on first use), whose true labels are shown beside the prediction.

Inputs run in batches of the data layer's batch size (at most 256). Class names come from a
`labels:` file named at the top of the config (one name per line, resolved relative to the
config), else the class ids are shown.
"""
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import load_config
from .config.loader import net_section
from .config.schema import Where, from_mapping
from .config.specs import COMMON_KEYS, LayerCommon
from .config.yaml_loader import MarkedDict
from .data import DataFileError
from .registry import get_layer_class

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                  ".pgm"}
DATASET_INPUT = re.compile(r"^(mnist|cifar10):(train|test)(?:\[(-?\d*)(?:(:)(-?\d*))?\])?$")
# record shapes of the dataset readers, so that a deploy net needs no data on disk
KNOWN_RECORDS = {"MNISTData": (1, 28, 28), "CIFAR10Data": (3, 32, 32)}
MAX_BATCH = 256


@dataclass
class Result:
    name: str                              # the input as given (file, or mnist:test[3])
    top: list = field(default_factory=list)  # [(class id, class name or None, probability)]
    label: int | None = None               # the true class, where the input says it

    def as_dict(self):
        d = {"input": self.name,
             "top": [{"class": c, "name": n, "probability": round(p, 6)} if n is not None
                     else {"class": c, "probability": round(p, 6)} for c, n, p in self.top]}
        if self.label is not None:
            d["label"] = self.label
        return d


class Predictor:
    """A deploy net built from a train/test config, with its weights and input transform."""

    def __init__(self, config, weights, batch=None, mode="cpu"):
        from .data.transforms import Transform
        from .net import Net
        root, file = load_config(config)
        net_cfg, net_file, plugins = net_section(root, file)
        self.config_file = file
        deploy, self.data_top, self.record_shape, spec, data_batch, self.scores = \
            _deploy(root, net_cfg, net_file, plugins)
        self.batch = int(batch or min(max(data_batch, 1), MAX_BATCH))
        self._spec_for_shape = spec
        self._set_input_shape(deploy, self.batch)
        self.net = Net(deploy, "test", weights=weights, mode=mode)
        self.transform = (Transform(spec, False, self.record_shape, self.batch, np.float32)
                          if spec is not None else None)
        if self.transform is not None and not self.transform:
            self.transform = None
        self.labels = _read_labels(root, file)
        self._rng = np.random.default_rng(0)

    def _set_input_shape(self, deploy, batch):
        layer = deploy["layers"][0]
        layer["shape"] = [batch] + list(self._input_shape())

    def _input_shape(self):
        """The net's input record shape: the data record after the TEST transform."""
        from .data.transforms import Transform
        if self._spec_for_shape is None:
            return self.record_shape
        t = Transform(self._spec_for_shape, False, self.record_shape, 1, np.float32)
        return tuple(t.out_shape)

    # -- inputs ----------------------------------------------------------------------------
    def load(self, inputs):
        """[(name, record (C, H, W) float32 before the transform, true label or None)]."""
        out = []
        for item in inputs:
            out.extend(self._load_one(str(item)))
        return out

    def _load_one(self, item):
        m = DATASET_INPUT.match(item)
        if m:
            return _dataset_records(item, m, self.record_shape)
        path = Path(item)
        if not path.exists():
            raise DataFileError(f"{item}: no such file (inputs are images, .npy arrays or "
                                "mnist:test[0:10])")
        if path.suffix.lower() == ".npy":
            return _npy_records(path, self.record_shape)
        if path.suffix.lower() in IMAGE_SUFFIXES or path.suffix == "":
            return [(item, _image_record(path, self.record_shape), None)]
        raise DataFileError(f"{item}: unknown input kind '{path.suffix}' (images: "
                            f"{', '.join(sorted(IMAGE_SUFFIXES))}; arrays: .npy)")

    # -- running ---------------------------------------------------------------------------
    def probabilities(self, records):
        """(N, classes) probabilities of float32 records (N, *record_shape)."""
        records = np.asarray(records, np.float32)
        blob = self.net.blobs[self.data_top]
        rows = []
        for start in range(0, len(records), self.batch):
            x = records[start:start + self.batch]
            if self.transform is not None:
                if len(x) < self.batch:       # the transform's buffers are sized per batch
                    pad = np.zeros((self.batch - len(x),) + x.shape[1:], np.float32)
                    y = self.transform.apply(self._rng, np.concatenate([x, pad]))[:len(x)]
                else:
                    y = self.transform.apply(self._rng, np.ascontiguousarray(x))
            else:
                y = x
            blob.reshape((len(x),) + tuple(blob.shape[1:]))
            blob.data[...] = y
            self.net.forward()
            rows.append(self._scores())
        return np.concatenate(rows) if rows else np.zeros((0, 0))

    def _scores(self):
        name, softmax = self.scores
        s = np.asarray(self.net.blobs[name].data, np.float64)
        s = s.reshape(len(s), -1)
        if softmax or not _is_distribution(s):
            s = np.exp(s - s.max(axis=1, keepdims=True))
            s /= s.sum(axis=1, keepdims=True)
        return s

    def predict(self, inputs, top=5):
        loaded = self.load(inputs)
        if not loaded:
            return []
        probs = self.probabilities(np.stack([r for _, r, _ in loaded]))
        k = max(1, min(top, probs.shape[1]))
        results = []
        for (name, _, label), p in zip(loaded, probs):
            best = np.argsort(-p, kind="stable")[:k]
            results.append(Result(name, [(int(c), self._name(c), float(p[c])) for c in best],
                                  label))
        return results

    def _name(self, c):
        return self.labels[c] if self.labels and c < len(self.labels) else None


def _is_distribution(s):
    return bool(s.size) and s.min() >= 0 and np.allclose(s.sum(axis=1), 1.0, atol=1e-3)


def _deploy(root, net_cfg, net_file, plugins):
    """(deploy config, data top, record shape, TEST transform spec, batch, (scores blob,
    apply softmax)) from a train/test net: the TEST layers, the data layer as an Input, no
    layer that reads the labels."""
    from .data.layer import DataLayer
    where = Where(net_file)
    kept, dropped_blobs = [], set()
    data = None
    scores = None
    for i, cfg in enumerate(net_cfg.get("layers") or []):
        if not isinstance(cfg, dict):
            continue
        cls = get_layer_class(str(cfg.get("type")))
        lw = where.at(net_cfg["layers"], i)
        common = from_mapping(LayerCommon, cfg, lw,
                              ignore=tuple(k for k in cfg if k not in COMMON_KEYS))
        if not common.keep("TEST"):
            continue
        if data is None and not common.bottom and (
                issubclass(cls, DataLayer) or cls.__name__ in ("Input", "DummyData")
                or common.type in KNOWN_RECORDS):
            data = (cfg, cls, common)
            dropped_blobs.update(common.top[1:])      # the labels
            continue
        if any(b in dropped_blobs for b in common.bottom):
            if common.type == "SoftmaxWithLoss" and scores is None:
                scores = (common.bottom[0], True)
            dropped_blobs.update(t for t in common.top if t not in common.bottom)
            continue
        kept.append(cfg)
        if common.type == "Softmax":
            scores = (common.top[0], False)
    if data is None:
        raise ValueError(f"{net_file}: no Input or data layer in the TEST net to feed")
    cfg, cls, common = data
    record, spec, batch = _record_of(cfg, cls, common, root)
    if scores is None:
        if not kept:
            raise ValueError(f"{net_file}: the TEST net has no layer after its input")
        last = kept[-1]
        tops = last.get("top")
        scores = ((tops[0] if isinstance(tops, list) else tops), False)
    deploy = MarkedDict(name=str(net_cfg.get("name") or root.get("name") or "net"),
                        plugins=list(plugins),
                        layers=[{"name": common.name, "type": "Input", "top": common.top[0],
                                 "shape": []}] + kept)
    deploy.file = net_file
    deploy.line, deploy.col = getattr(net_cfg, "line", None), getattr(net_cfg, "col", None)
    if not plugins:
        del deploy["plugins"]
    return deploy, common.top[0], record, spec, batch, scores


def _record_of(cfg, cls, common, root):
    """(record shape before the transform, transform spec or None, batch size)."""
    if cls.__name__ == "Input":
        shape = cfg.get("shape") or []
        shape = shape[0] if shape and isinstance(shape[0], list) else shape
        return tuple(int(d) for d in shape[1:]), None, int(shape[0]) if shape else 1
    if cls.__name__ == "DummyData":
        shape = cfg.get("shape") or []
        shape = shape[0] if shape and isinstance(shape[0], list) else shape
        return tuple(int(d) for d in shape[1:]), None, int(shape[0]) if shape else 1
    params = from_mapping(cls.Params, cfg, Where(getattr(cfg, "file", None)),
                          ignore=COMMON_KEYS)
    batch = int(getattr(params, "batch_size", 1) or 1)
    spec = getattr(params, "transform", None)
    if common.type in KNOWN_RECORDS:
        return KNOWN_RECORDS[common.type], spec, batch
    h, w = getattr(params, "new_height", 0), getattr(params, "new_width", 0)
    if h and w:
        return (3 if getattr(params, "is_color", True) else 1, h, w), spec, batch
    # any other reader: open it once to learn its record shape
    layer = cls(params, common.name, "TEST", common, np.random.default_rng(0), np.float32,
                "cpu")
    source = layer.open_source()
    return tuple(source.shapes[0]), spec, batch


def _read_labels(root, file):
    name = root.get("labels") if isinstance(root, dict) else None
    if not name:
        net = root.get("net") if isinstance(root, dict) else None
        name = net.get("labels") if isinstance(net, dict) else None
    if not name:
        return None
    path = Path(name)
    if not path.is_absolute() and file:
        path = Path(file).parent / path
    try:
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip()]
    except OSError as exc:
        raise DataFileError(f"{path}: the labels file cannot be read ({exc})") from None


def _image_record(path, shape):
    from .data.images import decode_image
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise DataFileError(f"{path}: the net's input is {list(shape)}, not an image "
                            "(C, H, W) with 1 or 3 channels; give a .npy array instead")
    c, h, w = shape
    a = decode_image(str(path), is_color=c == 3, new_height=h, new_width=w)
    return a.astype(np.float32)


def _npy_records(path, shape):
    try:
        a = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataFileError(f"{path}: not a readable .npy array ({exc})") from None
    if a.shape == tuple(shape):
        a = a[None]
    elif a.ndim == 2 and len(shape) == 3 and shape[0] == 1 and a.shape == tuple(shape[1:]):
        a = a[None, None]
    if a.shape[1:] != tuple(shape):
        raise DataFileError(f"{path}: array of shape {list(a.shape)}; the net takes records "
                            f"of shape {list(shape)} (one, or a stack [N, ...])")
    n = len(a)
    return [(f"{path}[{i}]" if n > 1 else str(path), a[i].astype(np.float32), None)
            for i in range(n)]


def _dataset_records(item, m, shape):
    dataset, split, start, colon, stop = m.groups()
    if dataset == "mnist":
        from .data.mnist import load_mnist
        images, labels = load_mnist(split)
        images = images.reshape(-1, 1, 28, 28)
    else:
        from .data.fetch import ensure_dataset
        from .data.sources import cifar10_source
        from . import data as _data
        ensure_dataset("cifar10", _data.data_root() / "cifar10")
        src = cifar10_source(split)
        images, labels = src.arrays
    if tuple(images.shape[1:]) != tuple(shape):
        raise DataFileError(f"{item}: records of shape {list(images.shape[1:])}; the net "
                            f"takes {list(shape)}")
    n = len(images)
    if start is None:
        idx = range(n)
    elif colon:
        idx = range(n)[slice(int(start) if start else None, int(stop) if stop else None)]
    else:
        i = int(start)
        if not -n <= i < n:
            raise DataFileError(f"{item}: index {i} outside the {n} records of {split}")
        idx = [i % n]
    return [(f"{dataset}:{split}[{i}]", images[i].astype(np.float32), int(labels[i]))
            for i in idx]


def format_results(results, as_json=False):
    """Text lines (or one JSON document) for `layerflow predict`."""
    if as_json:
        return "[\n" + ",\n".join(json.dumps(r.as_dict()) for r in results) + "\n]"
    lines = []
    for r in results:
        best = ", ".join(f"{n if n is not None else c} ({p:.4f})" for c, n, p in r.top)
        mark = ""
        if r.label is not None:
            mark = f"   [label {r.label}{'' if r.top and r.top[0][0] == r.label else ' MISSED'}]"
        lines.append(f"{r.name}: {best}{mark}")
    labelled = [r for r in results if r.label is not None]
    if labelled:
        right = sum(r.top[0][0] == r.label for r in labelled)
        lines.append(f"top-1 accuracy {right}/{len(labelled)} = {right / len(labelled):.4f}")
    return "\n".join(lines)
