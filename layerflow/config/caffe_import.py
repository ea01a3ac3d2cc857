"""Caffe prototxt -> layerflow YAML: nets (current `layer {}` and old V1 `layers {}`
formats) and solvers.

    layerflow import-caffe examples/mnist/lenet_solver.prototxt -o lenet.yaml

Rules:
- `*_param` blocks are flattened into the layer's mapping (layerflow keeps Caffe's names
  flat); `transform_param` becomes `transform:`; a repeated field becomes a list where the
  layer's Params expect one, a scalar otherwise. The `shape { dim: .. }` of Input and
  DummyData (and the net-level input shapes) always become a list of shapes, one per top;
  DummyData's old `num/channels/height/width` become shapes too.
  Keys are written in a fixed order (common keys, then the Params' own order), so the V1
  and current formats of one net give the same YAML.
- V1 `layers { type: CONVOLUTION blobs_lr: 1 weight_decay: 1 }` get current type names
  and `param: [{lr_mult, decay_mult}]`.
- Data layers: `Data` whose `source` names mnist becomes `MNISTData` (split `test` when the
  source's file name names test/t10k, else `train`), so Caffe's MNIST examples train on the
  IDX files under $LAYERFLOW_DATA; one whose source names cifar becomes `CIFAR10Data`
  likewise (turn both off with `known_datasets=False` / `--lmdb`; a source naming
  siamese / pair holds image pairs and stays `LMDBData`); any other `Data`
  becomes `LMDBData`; `ImageData` -> `ImageFolderData`; `HDF5Data`, `MemoryData`,
  `DummyData`, `Input` keep their names. The net-level `input:` / `input_shape` /
  `input_dim` fields become an `Input` layer.
- `Python` layers become plug-in types `module:layer`, with `param_str` handed over as a
  param (the plug-in's Params declare `param_str: str = ""`).
- A loss layer written without `top:` gets one named after the layer (Caffe's
  AutoTopBlobs), so that its loss counts.
- Caffe type names are layerflow's; V1 enum names (`CONVOLUTION`) are mapped, and a few
  forks' names (`DepthwiseConvolution`) too.
- Types without a layerflow implementation, and keys a layerflow layer does not know,
  are reported with their line numbers (`ImportResult.problems`); the layer is still
  written, so that a plug-in can fill the gap.
"""
import dataclasses
import re
import types
import typing
from pathlib import Path

import yaml

from .errors import ConfigError
from .prototxt import Ident, Message, load_prototxt

V1_TYPES = {
    "ABSVAL": "AbsVal", "ACCURACY": "Accuracy", "ARGMAX": "ArgMax", "BNLL": "BNLL",
    "CONCAT": "Concat", "CONTRASTIVE_LOSS": "ContrastiveLoss", "CONVOLUTION": "Convolution",
    "DECONVOLUTION": "Deconvolution", "DATA": "Data", "DROPOUT": "Dropout",
    "DUMMY_DATA": "DummyData", "EUCLIDEAN_LOSS": "EuclideanLoss", "ELTWISE": "Eltwise",
    "EXP": "Exp", "FLATTEN": "Flatten", "HDF5_DATA": "HDF5Data", "HDF5_OUTPUT": "HDF5Output",
    "HINGE_LOSS": "HingeLoss", "IM2COL": "Im2col", "IMAGE_DATA": "ImageData",
    "INFOGAIN_LOSS": "InfogainLoss", "INNER_PRODUCT": "InnerProduct", "LRN": "LRN",
    "MEMORY_DATA": "MemoryData", "MULTINOMIAL_LOGISTIC_LOSS": "MultinomialLogisticLoss",
    "MVN": "MVN", "POOLING": "Pooling", "POWER": "Power", "RELU": "ReLU", "SIGMOID": "Sigmoid",
    "SIGMOID_CROSS_ENTROPY_LOSS": "SigmoidCrossEntropyLoss", "SILENCE": "Silence",
    "SOFTMAX": "Softmax", "SOFTMAX_LOSS": "SoftmaxWithLoss", "SPLIT": "Split", "SLICE": "Slice",
    "TANH": "TanH", "WINDOW_DATA": "WindowData", "THRESHOLD": "Threshold",
}
DATA_TYPES = {"Data": "LMDBData", "ImageData": "ImageFolderData"}
# Types some Caffe forks spell differently from the layer layerflow has.
ALIASES = {"DepthwiseConvolution": "ConvolutionDepthwise"}
SHAPE_LISTS = {"Input", "DummyData"}     # `shape {dim}` here is always a list of shapes
# Data layers whose LMDB source names a dataset layerflow reads from its published files:
# (pattern in `source`, layer type, where the files are looked up).
KNOWN_DATASETS = (
    ("mnist", "MNISTData", "the IDX files under $LAYERFLOW_DATA/mnist"),
    ("cifar", "CIFAR10Data", "the binary CIFAR-10 files under $LAYERFLOW_DATA"),
)
V1_SOLVER_TYPES = {"SGD": "SGD", "NESTEROV": "Nesterov", "ADAGRAD": "AdaGrad",
                   "RMSPROP": "RMSProp", "ADADELTA": "AdaDelta", "ADAM": "Adam"}
COMMON_ORDER = ("name", "type", "bottom", "top", "include", "exclude", "param", "loss_weight",
                "propagate_down")
SILENT = {"engine"}              # Caffe implementation choices with no meaning here


@dataclasses.dataclass
class ImportResult:
    """`config`: the YAML-ready mapping; `problems`: (line, message) pairs; `notes`: lines
    about choices the importer made (mnist mapping, dropped solver_mode ...)."""
    config: dict
    problems: list
    notes: list
    file: str = ""
    origins: dict = dataclasses.field(default_factory=dict)   # id(layer) -> prototxt lines

    def to_yaml(self, line_map=False):
        """The YAML text; with `line_map`, closing comments map its layer lines to the
        prototxt's, so that a later error in the YAML names the prototxt line too."""
        return dump_yaml(self.config, header=f"Imported from {self.file} by layerflow "
                                             "import-caffe",
                         origins=self.origins if line_map else None)


# -- entry points -------------------------------------------------------------------------
def import_caffe(path, known_datasets=True, net_path=None):
    """Import a net or solver prototxt file -> ImportResult. With `known_datasets`, Data
    layers reading an MNIST or CIFAR LMDB become MNISTData / CIFAR10Data."""
    msg = load_prototxt(path)
    imp = _Importer(str(path), known_datasets)
    if is_solver(msg):
        config = imp.solver(msg, Path(path), net_path)
    else:
        config = imp.net(msg, top_level=True)
    return ImportResult(config, imp.problems, imp.notes, str(path), imp.origins)


def import_caffe_text(text, known_datasets=True, file="<string>"):
    """Import prototxt text (a net, or a solver with an inline `net_param`)."""
    from .prototxt import parse_prototxt
    msg = parse_prototxt(text, file)
    imp = _Importer(file, known_datasets)
    config = imp.solver(msg, None, None) if is_solver(msg) else imp.net(msg, top_level=True)
    return ImportResult(config, imp.problems, imp.notes, file, imp.origins)


def is_solver(msg):
    solver_keys = {"net", "train_net", "net_param", "train_net_param", "base_lr", "max_iter",
                   "lr_policy", "solver_mode", "test_interval"}
    return not msg.has("layer") and not msg.has("layers") and bool(set(msg.names())
                                                                       & solver_keys)


# -- the importer --------------------------------------------------------------------------
class _Importer:
    def __init__(self, file, known_datasets):
        self.file, self.known_datasets = file, known_datasets
        self.problems, self.notes = [], []
        self.origins = {}      # id(layer mapping) -> (prototxt line, {key: prototxt line})
        self.names = {"TRAIN": set(), "TEST": set()}   # layer names so far, per phase

    def problem(self, line, message):
        self.problems.append((line, message))

    def _unique(self, name, line, common):
        """Caffe accepts two layers of one name in one net (its MNIST autoencoder has two
        'loss' layers); layerflow names weights and errors by layer, so a repeat in the same
        phase gets a suffix. Layers of one name in different phases (a TRAIN and a TEST data
        layer, or a layer written once per phase) keep it: train and test nets share params
        by layer name."""
        phases = _phases(common)
        new, k = name, 1
        while any(new in self.names[p] for p in phases):
            k += 1
            new = f"{name}_{k}"
        for p in phases:
            self.names[p].add(new)
        if new != name:
            self.notes.append(f"line {line}: a second layer named '{name}' is renamed "
                              f"'{new}' (layer names must be unique here)")
        return new

    # -- solver ---------------------------------------------------------------------------
    def solver(self, msg, path, net_path):
        from ..solvers.params import SolverParams
        fields = {f.name: f for f in dataclasses.fields(SolverParams)}
        hints = typing.get_type_hints(SolverParams)
        out = {}
        net_cfg = None
        for name in msg.names():
            values, line = msg.getall(name), msg.line_of(name)
            if name in ("net", "train_net"):
                net_cfg = self.net(self._net_file(values[-1], path, net_path, line),
                                   top_level=False)
            elif name in ("net_param", "train_net_param"):
                net_cfg = self.net(values[-1], top_level=False)
            elif name in ("test_net", "test_net_param"):
                self.problem(line, f"'{name}': a separate test net is not supported; the "
                             "test phase of the train net is used")
            elif name in ("solver_type", "type"):
                kind = str(values[-1])
                out["type"] = V1_SOLVER_TYPES.get(kind.upper(), kind) if name == "solver_type" \
                    else kind
            elif name == "solver_mode":
                self.notes.append(f"line {line}: solver_mode {values[-1]} dropped: layerflow "
                                  "runs on the CPU unless given --mode cuda")
            elif name == "test_iter":
                out["test_iter"] = values[0]
                if len(values) > 1:
                    self.problem(line, "several test_iter values (one per test net): the "
                                 "first is used")
            elif name in fields:
                value = values if len(values) > 1 else values[0]
                out[name] = _coerce(_plain(value), hints[name])
            else:
                self.problem(line, f"solver field '{name}' is not supported; dropped")
        if net_cfg is None:
            raise ConfigError("the solver names no net ('net:' or 'net_param')", self.file)
        order = list(fields)
        solver = {k: out[k] for k in sorted(out, key=order.index)}
        name = net_cfg.pop("name", None)
        root = {"name": name} if name else {}
        root.update({"solver": solver, "net": net_cfg})
        return root

    def _net_file(self, name, solver_path, net_path, line):
        if net_path is not None:
            candidates = [Path(net_path)]
        else:
            base = solver_path.parent if solver_path else Path(".")
            candidates = [Path(name), base / name, base / Path(name).name]
        for c in candidates:
            if c.exists():
                if c != candidates[0] or net_path:
                    self.notes.append(f"line {line}: net '{name}' read from {c}")
                return load_prototxt(c)
        tried = ", ".join(str(c) for c in candidates)
        raise ConfigError(f"the net file '{name}' named by the solver was not found "
                          f"(tried {tried}); give it with --net", self.file, line)

    # -- net ------------------------------------------------------------------------------
    def net(self, msg, top_level):
        out = {}
        if msg.has("name"):
            out["name"] = str(msg.get("name"))
        if msg.get("force_backward"):
            out["force_backward"] = True
        layers = []
        input_layer = self._old_inputs(msg)
        if input_layer:
            layers.append(input_layer)
        for name, value, line in msg.fields:
            if name in ("layer", "layers"):
                layers.append(self.layer(value, v1=(name == "layers")))
            elif name not in ("name", "force_backward", "input", "input_shape", "input_dim",
                              "state", "debug_info"):
                self.problem(line, f"net field '{name}' is not supported; dropped")
        if msg.has("state"):
            self.problem(msg.line_of("state"), "net 'state' is not supported (choose the phase "
                         "when building the net); dropped")
        if not layers:
            raise ConfigError("no layers in this net", self.file, msg.line)
        out["layers"] = layers
        return out

    def _old_inputs(self, msg):
        """The net-level `input:` names with `input_shape {dim}` or 4 `input_dim` each."""
        names = [str(n) for n in msg.getall("input")]
        if not names:
            return None
        shapes = [_plain(s) for s in msg.getall("input_shape")]
        if not shapes:
            dims = [int(d) for d in msg.getall("input_dim")]
            shapes = [dims[i:i + 4] for i in range(0, len(dims), 4)]
        if len(shapes) != len(names):
            raise ConfigError(f"{len(names)} input(s) but {len(shapes)} shape(s)", self.file,
                              msg.line_of("input"))
        return {"name": "input", "type": "Input", "top": _one(names), "shape": shapes}

    def layer(self, msg, v1):
        line = msg.line
        name = str(msg.get("name", f"layer{line}"))
        caffe_type = msg.get("type")
        if caffe_type is None:
            raise ConfigError(f"layer '{name}' has no type", self.file, line)
        caffe_type = str(caffe_type)
        if v1 or (caffe_type.isupper() and caffe_type in V1_TYPES):
            caffe_type = V1_TYPES.get(caffe_type, caffe_type)
        common = {"name": name}
        params, param_lines = {}, {}
        lr, decay, pnames = [], [], []
        for key, value, kline in msg.fields:
            if key in ("name", "type"):
                continue
            if key in ("bottom", "top"):
                common.setdefault(key, []).append(str(value))
            elif key in ("include", "exclude"):
                common.setdefault(key, []).append(_rule(value))
            elif key == "param" and isinstance(value, Message):
                common.setdefault("param", []).append(_param_spec(value))
            elif key == "param":                 # V1: param: "shared_name"
                pnames.append(str(value))
            elif key == "blobs_lr":
                lr.append(value)
            elif key == "weight_decay":
                decay.append(value)
            elif key in ("loss_weight", "propagate_down"):
                common.setdefault(key, []).append(value)
            elif key == "phase":
                common.setdefault("include", []).append({"phase": str(value)})
            elif key == "transform_param":
                params["transform"] = _plain(value)
                param_lines["transform"] = kline
            elif key.endswith("_param") and isinstance(value, Message):
                for pkey, pvalue, pline in value.fields:
                    params.setdefault(pkey, []).append(pvalue)
                    param_lines.setdefault(pkey, pline)
            elif key == "blobs":
                self.problem(kline, f"layer '{name}': weights stored in the prototxt "
                             "('blobs') are not imported; load them with --weights")
            else:
                self.problem(kline, f"layer '{name}': field '{key}' is not supported; dropped")
        if lr or decay or pnames:
            n = max(len(lr), len(decay), len(pnames))
            specs = []
            for i in range(n):
                spec = {}
                if i < len(pnames) and pnames[i]:
                    spec["name"] = pnames[i]
                if i < len(lr):
                    spec["lr_mult"] = lr[i]
                if i < len(decay):
                    spec["decay_mult"] = decay[i]
                specs.append(spec)
            common["param"] = specs
        for key in ("bottom", "top", "include", "exclude", "loss_weight", "propagate_down"):
            if key in common:
                common[key] = _one(common[key])
        params = {k: (_plain(v[0]) if len(v) == 1 else [_plain(x) for x in v])
                  if isinstance(v, list) else v for k, v in params.items()}
        layer_type, params = self._map_type(caffe_type, name, params, line)
        common["type"] = layer_type
        if layer_type in SHAPE_LISTS:
            params = _shape_lists(params)
        cls = self._class_of(layer_type, name, line)
        if "top" not in common and _is_loss(cls, layer_type):
            common["top"] = name
            self.notes.append(f"line {line}: loss layer '{name}' has no top; it gets one "
                              f"named '{name}' (Caffe's AutoTopBlobs)")
        common["name"] = self._unique(name, line, common)
        out = self._finish(common, cls, params, param_lines, name, line)
        key_lines = {}
        for key, _, kline in msg.fields:
            key_lines.setdefault(key, kline)
        self.origins[id(out)] = (line, {**key_lines, **param_lines})
        return out

    def _map_type(self, caffe_type, name, params, line):
        if caffe_type == "Data":
            source = str(params.get("source", ""))
            if re.search(r"siamese|pair", source, re.IGNORECASE):
                self.notes.append(f"line {line}: layer '{name}': '{source}' holds image "
                                  "pairs, not plain digits: kept as LMDBData")
                return "LMDBData", params
            for pattern, target, where in KNOWN_DATASETS:
                if self.known_datasets and re.search(pattern, source, re.IGNORECASE):
                    split = "test" if re.search(r"test|t10k", Path(source).name,
                                                re.IGNORECASE) else "train"
                    self.notes.append(f"line {line}: layer '{name}': Data from '{source}' -> "
                                      f"{target} split {split} ({where})")
                    keep = {"split": split}
                    for key in ("batch_size", "transform"):
                        if key in params:
                            keep[key] = params[key]
                    return target, keep
            return "LMDBData", params
        if caffe_type == "Python":
            module, cls = params.pop("module", None), params.pop("layer", None)
            params.pop("share_in_parallel", None)
            if module and cls:
                self.notes.append(f"line {line}: layer '{name}': Python layer -> plug-in "
                                  f"type {module}:{cls}")
                return f"{module}:{cls}", params
            return "Python", params
        caffe_type = ALIASES.get(caffe_type, caffe_type)
        return DATA_TYPES.get(caffe_type, caffe_type), params

    def _class_of(self, layer_type, name, line):
        """The layer class, or None (reported) when layerflow has no such type."""
        from ..registry import get_layer_class
        try:
            return get_layer_class(layer_type)
        except (KeyError, ImportError, AttributeError, TypeError):
            if ":" in layer_type:
                self.problem(line, f"layer '{name}': plug-in '{layer_type}' cannot be "
                             "imported here; it must be importable when the net is built")
            else:
                self.problem(line, f"layer '{name}': type '{layer_type}' has no layerflow "
                             "implementation")
            return None

    def _finish(self, common, cls, params, param_lines, name, line):
        layer_type = common["type"]
        out = {k: common[k] for k in COMMON_ORDER if k in common}
        if cls is None:
            out.update(params)
            return out
        hints = typing.get_type_hints(cls.Params)
        order = [f.name for f in dataclasses.fields(cls.Params)]
        for key in sorted(params, key=lambda k: order.index(k) if k in order else len(order)):
            if key not in hints:
                if key not in SILENT:
                    self.problem(param_lines.get(key, line),
                                 f"layer '{name}': {layer_type} has no parameter '{key}'; "
                                 "dropped")
                continue
            value = params[key]
            if dataclasses.is_dataclass(_unoptional(hints[key])) and isinstance(value, dict):
                value = self._sub_params(_unoptional(hints[key]), value, name, key,
                                         param_lines.get(key, line))
            out[key] = _coerce(value, hints[key])
            choices = _choices(hints[key])
            if choices and out[key] not in choices:
                self.problem(param_lines.get(key, line),
                             f"layer '{name}': {key} {out[key]} is not supported by "
                             f"layerflow's {layer_type} (it takes {', '.join(choices)})")
        return out

    def _sub_params(self, cls, value, name, key, line):
        fields = {f.name for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls)
        kept = {}
        for k, v in value.items():
            if k in fields:
                kept[k] = _coerce(v, hints[k])
            else:
                self.problem(line, f"layer '{name}': '{key}' has no '{k}' here; dropped")
        return kept


# -- value helpers -------------------------------------------------------------------------
def _is_loss(cls, layer_type):
    """Whether a layer is a loss (Caffe's LossLayer, whose AutoTopBlobs is true)."""
    if cls is not None:
        return bool(getattr(cls, "is_loss", False))
    return layer_type.endswith("Loss")


def _shape_lists(params):
    """Input / DummyData: `shape` as a list of shapes, one per top; DummyData's legacy
    repeated num / channels / height / width become 4-D shapes."""
    out = dict(params)
    shape = out.get("shape")
    if isinstance(shape, list) and shape and not isinstance(shape[0], list):
        out["shape"] = [shape]
    legacy = [out.pop(k, None) for k in ("num", "channels", "height", "width")]
    if "shape" not in out and any(v is not None for v in legacy):
        cols = [v if isinstance(v, list) else [v if v is not None else 1] for v in legacy]
        n = max(len(c) for c in cols)
        out["shape"] = [[int(c[i] if i < len(c) else c[0]) for c in cols] for i in range(n)]
    return out


def _plain(value):
    """Message -> dict (repeated fields as lists, `{dim: ..}` as a list); Ident -> str."""
    if isinstance(value, Message):
        names = value.names()
        if names == ["dim"]:
            return [int(d) for d in value.getall("dim")]
        out = {}
        for n in names:
            vs = [_plain(v) for v in value.getall(n)]
            out[n] = vs[0] if len(vs) == 1 else vs
        return out
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Ident):
        return str(value)
    return value


def _rule(msg):
    rule = _plain(msg)
    for key in ("stage", "not_stage"):
        if key in rule and not isinstance(rule[key], list):
            rule[key] = [rule[key]]
    return rule


def _param_spec(msg):
    spec = _plain(msg)
    spec.pop("share_mode", None)
    return spec


def _one(values):
    return values[0] if len(values) == 1 else values


def _unoptional(tp):
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _choices(tp):
    """The allowed values of a Literal annotation (inside Optional too), else None."""
    tp = _unoptional(tp)
    if typing.get_origin(tp) is typing.Literal:
        return [str(c) for c in typing.get_args(tp)]
    return None


def _accepts(tp, kind):
    """Whether annotation `tp` accepts a list (kind='list') or a scalar (kind='scalar')."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(a, kind) for a in typing.get_args(tp) if a is not type(None))
    is_list = origin in (list, tuple) or tp in (list, tuple)
    if tp is typing.Any:
        return True
    return is_list if kind == "list" else not is_list


def _coerce(value, tp):
    """Wrap a scalar in a list, or unwrap a one-item list, to fit the annotation."""
    if not isinstance(value, list) and not _accepts(tp, "scalar") and _accepts(tp, "list"):
        return [value]
    if isinstance(value, list) and len(value) == 1 and not _accepts(tp, "list"):
        return value[0]
    return value


# -- YAML output ---------------------------------------------------------------------------
def _flow(value):
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9, sort_keys=False)
    text = text.strip()
    if text.endswith("\n..."):
        text = text[:-4].strip()
    if text.endswith("..."):
        text = text[:-3].strip()
    return text


MAP_TAG = "# prototxt lines (yaml:prototxt):"


def dump_yaml(config, header=None, origins=None):
    """The config as block YAML: one mapping per layer, small values in flow style. With
    `origins` (id(layer) -> (line, {key: line}) in the prototxt), comment lines at the end
    map each layer line of the YAML to the prototxt line it came from (`prototxt_origin`)."""
    lines = [f"# {header}"] if header else []
    where = {}                 # yaml line -> prototxt line

    def block(mapping, indent):
        pad = " " * indent
        for key, value in mapping.items():
            if key == "layers":
                lines.append(f"{pad}layers:")
                for layer in value:
                    first = True
                    line, key_lines = (origins or {}).get(id(layer), (None, {}))
                    for k, v in layer.items():
                        lines.append(f"{pad}  {'- ' if first else '  '}{k}: {_flow(v)}")
                        if line is not None:
                            where[len(lines)] = key_lines.get(k, line)
                        first = False
            elif isinstance(value, dict) and key in ("solver", "net"):
                lines.append(f"{pad}{key}:")
                block(value, indent + 2)
            else:
                lines.append(f"{pad}{key}: {_flow(value)}")

    block(config, 0)
    if where:
        pairs = [f"{y}:{p}" for y, p in where.items()]
        for i in range(0, len(pairs), 12):
            lines.append(f"{MAP_TAG} {' '.join(pairs[i:i + 12])}")
    return "\n".join(lines) + "\n"


def prototxt_origin(yaml_file, line):
    """(prototxt file, line) that line `line` of a YAML written by import-caffe came from,
    or None (not an imported file, or a line outside the layers)."""
    try:
        with open(yaml_file, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError, TypeError):
        return None
    m = re.match(r"# Imported from (.+) by layerflow import-caffe\n", text)
    if not m or line is None:
        return None
    where = {}
    for row in text.splitlines():
        if row.startswith(MAP_TAG):
            for pair in row[len(MAP_TAG):].split():
                y, _, p = pair.partition(":")
                where[int(y)] = int(p)
    if line in where:
        return m.group(1), where[line]
    before = [y for y in where if y <= line]
    return (m.group(1), where[max(before)]) if before else None


def _phases(common):
    """The phases a layer's include/exclude rules let it into (stage and level rules are
    taken as possibly matching)."""
    def phases_in(rules):
        return [str(r["phase"]).upper() if isinstance(r, dict) and r.get("phase") else None
                for r in (rules if isinstance(rules, list) else [rules])]
    phases = {"TRAIN", "TEST"}
    if "include" in common and None not in phases_in(common["include"]):
        phases &= set(phases_in(common["include"]))
    if "exclude" in common:
        phases -= set(phases_in(common["exclude"]))
    return phases
