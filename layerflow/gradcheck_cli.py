"""`layerflow gradcheck`: the shared numerical gradient checker (layerflow/gradcheck.py)
from the command line, for one layer type (built-in or plug-in) or for every layer of a net.

    layerflow gradcheck --layer InnerProduct --params num_output=3 --shape 2,4
    layerflow gradcheck --layer mypkg.layers:Scale2 --params factor=3
    layerflow gradcheck configs/lenet.yaml --batch 2

Everything runs in float64. A layer alone gets random normal bottoms of the `--shape`s;
bottoms the layer cannot propagate to (labels) get integer class ids below the size of
bottom 0's axis 1. For a config, the net is built in TRAIN phase with every data layer's
batch cut to `--batch`, run forward once, then each layer with a gradient to give (to a
bottom or a param; a deploy net without a loss too) is checked on copies of its own
bottoms. Blobs with more than `--max-elements` values are checked on that many elements
drawn at random (the check is exhaustive below it).
"""
import copy

import numpy as np

from .blob import Blob
from .gradcheck import GradientChecker


def parse_params(pairs):
    """['k=v', ...] -> {k: v} with each v read as YAML (numbers, lists, mappings, enums)."""
    import yaml
    out = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--params takes key=value pairs, got '{pair}'")
        out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
    return out


def parse_shape(text):
    try:
        return tuple(int(s) for s in text.replace("x", ",").split(",") if s.strip())
    except ValueError:
        raise ValueError(f"--shape takes sizes like 2,3,4,5, got '{text}'") from None


def check_layer_type(type_name, params=None, shapes=None, num_top=None, checker=None,
                     seed=0, phase="TRAIN"):
    """Check one layer type on random bottoms -> (GradCheckResult, description)."""
    from .config import Where, from_mapping
    from .registry import get_layer_class
    try:
        cls = get_layer_class(type_name)
    except KeyError:
        from .config.errors import did_you_mean
        from .registry import layer_types
        raise ValueError(f"unknown layer type '{type_name}'"
                         + did_you_mean(type_name, layer_types())) from None
    except (ImportError, AttributeError, TypeError) as exc:
        raise ValueError(f"cannot load layer '{type_name}': {exc}") from None
    p = from_mapping(cls.Params, params or {}, Where("--params"))
    nb = cls.num_bottom if isinstance(cls.num_bottom, int) else cls.num_bottom[0]
    shapes = list(shapes or [])
    if not shapes:
        shapes = [(2, 3, 4, 5)] * max(nb, 1 if nb else 0)
    if len(shapes) < nb:
        shapes += [shapes[-1]] * (nb - len(shapes))
    if num_top is None:
        num_top = cls.num_top if isinstance(cls.num_top, int) else cls.num_top[0]
    rng = np.random.default_rng(seed)
    layer = cls(p, type_name.rsplit(":", 1)[-1].lower(), phase, None,
                np.random.default_rng(seed), np.float64)
    bottom = [Blob(s, np.float64, name=f"bottom{i}") for i, s in enumerate(shapes)]
    top = [Blob((), np.float64, name=f"top{i}") for i in range(num_top)]
    layer.check_arity(len(bottom), len(top))
    for i, b in enumerate(bottom):
        if layer.can_backprop(i) or i == 0:
            b.data[...] = rng.normal(size=b.shape)
        else:
            classes = bottom[0].shape[1] if bottom[0].ndim > 1 else 2
            b.data[...] = rng.integers(0, classes, b.shape)
    layer.setup(bottom, top)
    layer.reshape(bottom, top)
    checker = checker or GradientChecker()
    return checker.check(layer, bottom, top), f"{type_name} on " + ", ".join(
        str(list(s)) for s in shapes)


def _cut_batches(net_cfg, batch):
    """A copy of a net mapping with every data layer's batch set to `batch`."""
    from .registry import get_layer_class
    net_cfg = copy.deepcopy(net_cfg)
    for cfg in net_cfg.get("layers") or []:
        if not isinstance(cfg, dict):
            continue
        try:
            fields = get_layer_class(str(cfg.get("type"))).Params.__dataclass_fields__
        except (KeyError, ImportError, AttributeError, TypeError):
            continue
        if "batch_size" in fields:
            cfg["batch_size"] = batch
        elif "shape" in fields and cfg.get("shape") and not cfg.get("bottom"):
            shape = cfg["shape"]
            if isinstance(shape[0], list):
                cfg["shape"] = [[batch] + list(s[1:]) if s else s for s in shape]
            else:
                cfg["shape"] = [batch] + list(shape[1:])
    return net_cfg


def check_net(config, batch=2, checker=None, layers=None, seed=1):
    """Check every layer of the TRAIN net that has a gradient to give (to a bottom or a
    param), whether or not a loss makes the net run it -> [(layer, result)]."""
    from .config import load_config, net_section
    from .net import Net
    root, file = load_config(config)
    net_cfg, _net_file, plugins = net_section(root, file)
    net_cfg = _cut_batches(net_cfg, batch) if batch else copy.deepcopy(net_cfg)
    if plugins:
        net_cfg["plugins"] = list(plugins)
    net = Net(net_cfg, "train", dtype=np.float64, seed=seed)
    hook = net.add_hook(_LayerChecker(checker or GradientChecker(max_elements=200), layers))
    net.forward()
    net.remove_hook(hook)
    return hook.results


class _LayerChecker:
    """A net hook: as the forward pass reaches each layer with a gradient to give, check it
    on copies of its bottoms (taken before an in-place layer overwrites them)."""

    def __init__(self, checker, only):
        self.checker, self.only = checker, only
        self.results, self.bottom = [], None
        self.rng = np.random.default_rng(checker.seed)

    def before_forward(self, net, i):
        layer, bottoms = net.layers[i], net.bottom_vecs[i]
        differentiable = bottoms and (layer.blobs or any(
            layer.can_backprop(j) for j in range(len(bottoms))))
        wanted = (differentiable and not (self.only and layer.name not in self.only)
                  and not (layer.type_name == "Split" and layer.spec is None))
        self.bottom = None
        if wanted:
            self.bottom = []
            for b in bottoms:
                c = Blob(b.shape, np.float64, name=b.name)
                c.data[...] = b.cpu_data
                self.bottom.append(c)

    def after_forward(self, net, i):
        layer = net.layers[i]
        if layer.type_name == "Input":     # filled from Python: zeros would sit on kinks
            for t in net.top_vecs[i]:
                t.data[...] = self.rng.standard_normal(t.shape)
        if self.bottom is None:
            return
        top = [Blob(t.shape, np.float64, name=t.name) for t in net.top_vecs[i]]
        layer.reshape(self.bottom, top)
        self.results.append((layer, self.checker.check(layer, self.bottom, top)))
        layer.reshape(net.bottom_vecs[i], net.top_vecs[i])


def format_result(title, result, threshold):
    lines = [title]
    checked = result.checked
    for label, worst in result.worst.items():
        flag = "ok" if worst <= threshold else "FAIL"
        n = checked.get(label)
        count = f"  ({n} element{'s' if n != 1 else ''} checked)" if n is not None else ""
        lines.append(f"    {label:<9} worst relative error {worst:.3e}  {flag}{count}")
    if not result.worst:
        lines.append("    FAIL: nothing to check (no bottom takes a gradient, no params)")
    elif not sum(checked.values()):
        lines.append("    FAIL: no element was checked (all skipped at the kink)")
    for f in result.failures:
        lines.append(f"    failed: {f}")
    return "\n".join(lines)
