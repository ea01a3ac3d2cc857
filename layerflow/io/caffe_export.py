"""layerflow config + weights -> Caffe deploy prototxt + `.caffemodel`.

    layerflow export-caffe lenet.yaml --weights lenet.npz -o lenet_deploy.prototxt
    # writes lenet_deploy.prototxt and lenet_deploy.caffemodel

What is written is the TEST net (the layers a TEST-phase build keeps, so no include/exclude
rules): each layer's own keys (as the config writes them) go into Caffe's `<type>_param`
block (`convolution_param`, `relu_param`, ...; a loss's `ignore_label` / `normalization` into
`loss_param`); layerflow's data layers (MNISTData, NPZData, LMDBData ...) become an `Input`
layer with the shapes the built net gives their tops, since a deploy is fed from code; a
`ConvolutionDepthwise` (a fork's type) becomes the `Convolution` with group = channels that
stock Caffe reads (same weights). Keys Caffe does not have are translated (`ceil_mode:
false` -> `round_mode: FLOOR`) or dropped with a note (DummyData's `refill`,
`integer_labels`). The weights go into a `.caffemodel`
(binary NetParameter, V2 `layer` records, float `data` with `shape`), which Caffe's
`Net::CopyTrainedLayersFrom` reads; `import-caffe --weights` reads it back.
"""
import re
import types
import typing
from pathlib import Path

from ..config import load_config, net_section
from ..config.specs import COMMON_KEYS, StateRule
from ..registry import get_layer_class
from .caffemodel import write_caffemodel

BLOCKS = {"ReLU": "relu_param", "TanH": "tanh_param", "PReLU": "prelu_param",
          "ArgMax": "argmax_param", "Deconvolution": "convolution_param",
          "ConvolutionDepthwise": "convolution_param", "SoftmaxWithLoss": "softmax_param",
          "Normalize": "norm_param", "LSTM": "recurrent_param", "RNN": "recurrent_param"}
LOSS_KEYS = ("ignore_label", "normalization", "normalize")
DROPPED = {("DummyData", "refill"), ("DummyData", "integer_labels")}
_IDENT = re.compile(r"^[A-Z][A-Z0-9_]*$")


def param_block(layer_type):
    """Caffe's `*_param` field of a type: `InnerProduct` -> `inner_product_param`."""
    if layer_type in BLOCKS:
        return BLOCKS[layer_type]
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", layer_type)
    return snake.lower() + "_param"


def _as_list(v):
    return v if isinstance(v, list) else [v]


def _kept_in_test(cfg):
    inc = [StateRule(**r) for r in _as_list(cfg.get("include") or [])]
    exc = [StateRule(**r) for r in _as_list(cfg.get("exclude") or [])]
    if inc:
        return any(r.matches("TEST") for r in inc)
    return not any(r.matches("TEST") for r in exc)


def _quote(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _scalar(value, enum=None):
    """A prototxt value; a string is an enum identifier when `enum` (None: when it looks
    like one, MAX or TEST)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if not isinstance(value, float) or value == value else "nan"
    text = str(value)
    is_enum = bool(_IDENT.match(text)) if enum is None else enum
    return text if is_enum else _quote(text)


def _emit(lines, key, value, indent, hint=None):
    pad = "  " * indent
    enum = None if hint is None else typing.get_origin(_unopt(hint)) is typing.Literal
    if key == "shape" and isinstance(value, list):
        shapes = value if value and isinstance(value[0], list) else [value]
        for s in shapes:
            lines.append(f"{pad}shape {{ " + " ".join(f"dim: {int(d)}" for d in s) + " }")
    elif isinstance(value, dict):
        lines.append(f"{pad}{key} {{")
        for k, v in value.items():
            _emit(lines, k, v, indent + 1)
        lines.append(f"{pad}}}")
    elif isinstance(value, list):
        for v in value:
            _emit(lines, key, v, indent, hint)
    elif value is not None:
        lines.append(f"{pad}{key}: {_scalar(value, enum)}")


def _unopt(tp):
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1:
        return args[0]
    return tp


def _layer_text(cfg, cls, net, notes):
    """(prototxt lines of one layer, the Caffe type written)."""
    name, ltype = str(cfg["name"]), str(cfg["type"])
    tops = [str(t) for t in _as_list(cfg.get("top") or [])]
    bottoms = [str(b) for b in _as_list(cfg.get("bottom") or [])]
    own = {k: v for k, v in cfg.items() if k not in COMMON_KEYS}
    if cls.num_bottom == 0 and ltype not in ("Input", "DummyData"):
        notes.append(f"layer '{name}': {ltype} -> Input of its tops' shapes (a deploy is "
                     "fed from code)")
        ltype, own = "Input", {"shape": [list(net.blobs[t].shape) for t in tops]}
    if ltype == "ConvolutionDepthwise":              # stock Caffe reads it as a grouped conv
        layer = net.layers[net.layer_names.index(name)]
        notes.append(f"layer '{name}': ConvolutionDepthwise -> Convolution with group "
                     f"{layer.channels} (same weights)")
        ltype = "Convolution"
        own.update(num_output=layer.blobs[0].shape[0], group=layer.channels)
    if ltype == "Pooling" and own.get("ceil_mode") is False:
        own.pop("ceil_mode")
        own["round_mode"] = "FLOOR"
    own.pop("ceil_mode", None)
    for key in list(own):
        if (ltype, key) in DROPPED:
            notes.append(f"layer '{name}': '{key}' has no Caffe counterpart; dropped")
            own.pop(key)
    hints = typing.get_type_hints(cls.Params) if ltype == cfg["type"] else {}
    lines = ["layer {", f"  name: {_quote(name)}", f"  type: {_quote(ltype)}"]
    lines += [f"  bottom: {_quote(b)}" for b in bottoms]
    lines += [f"  top: {_quote(t)}" for t in tops]
    for spec in _as_list(cfg.get("param") or []):
        _emit(lines, "param", spec, 1)
    for key in ("loss_weight", "propagate_down"):
        if cfg.get(key) is not None:
            _emit(lines, key, cfg[key], 1)
    loss = {k: own.pop(k) for k in LOSS_KEYS if k in own} if cls.is_loss else {}
    for block, values in ((param_block(ltype), own), ("loss_param", loss)):
        if values:
            lines.append(f"  {block} {{")
            for k, v in values.items():
                _emit(lines, k, v, 2, hints.get(k))
            lines.append("  }")
    lines.append("}")
    return lines, ltype


def export_caffe(config, weights, out_prototxt):
    """Write the TEST net of `config` (with `weights`, an .npz) as `out_prototxt` and its
    weights as the `.caffemodel` beside it; returns (prototxt path, caffemodel path, notes)."""
    from ..net import Net
    net = Net(config, "test", weights=weights)
    root, file = load_config(config)
    net_cfg, _file, _plugins = net_section(root, file)
    built = set(net.layer_names)
    out = Path(out_prototxt)
    lines = [f"# Exported by layerflow export-caffe from {file or 'a config'}",
             f'name: "{net.name}"']
    notes, types = [], {}
    for cfg in net_cfg["layers"]:
        if not _kept_in_test(cfg) or str(cfg.get("name")) not in built:
            continue
        cls = get_layer_class(str(cfg["type"]))
        layer_lines, caffe_type = _layer_text(cfg, cls, net, notes)
        types[str(cfg["name"])] = caffe_type
        lines += layer_lines
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    model = out.with_suffix(".caffemodel")
    write_caffemodel(model, net, types)
    return out, model, notes

