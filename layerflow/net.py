"""Net: a layer graph built from a YAML config, run forward and backward.

Building follows Caffe: keep the layers whose include/exclude rules match the phase, wire
bottoms to the latest top of that name (in-place layers reuse the bottom blob), insert a
Split layer wherever one top feeds several consumers (so that their gradients add up), run
each layer's setup and reshape in order (shape inference before any compute), share named
params, and work out which layers need backward.
"""
import logging
from collections import OrderedDict

import numpy as np

from .blob import Blob
from .config import ConfigError, Where, from_mapping, load_config, net_section
from .config.errors import did_you_mean
from .config.specs import COMMON_KEYS, LayerCommon
from .io.weights import copy_weights, save_weights
from .kernels.cpu import threads
from .layer import ShapeError
from .layers.batch_norm import BatchNorm
from .layers.convolution import Convolution
from .layers.convolution_depthwise import ConvolutionDepthwise
from .layers.relu import ReLU
from .layers.scale import Scale
from .registry import get_layer_class, import_plugin, layer_types, plugins_allowed
from .runtime import Runtime

log = logging.getLogger("layerflow")


class _Value:
    """One version of a named blob: produced by a layer (or in place), read by consumers."""

    def __init__(self, name, producer):
        self.name, self.producer = name, producer
        self.consumers = []          # (layer index, bottom index)
        self.loss_weight = 0.0
        self.inplace_of = None       # the bottom value an in-place layer overwrote


class Param:
    """One learnable blob of the net, once however many layers share it: `blob`,
    `lr_mult`, `decay_mult`, `key` (`{layer}/{index}` of its first owner, the name it has
    in weight files and solver states) and `shared_from` (the `param: {name}` it is shared
    under, or None). The Solver, snapshots, the guard and `layerflow time` all use these."""

    __slots__ = ("blob", "lr_mult", "decay_mult", "key", "shared_from")

    def __init__(self, blob, lr_mult, decay_mult, key, shared_from=None):
        self.blob, self.lr_mult, self.decay_mult = blob, float(lr_mult), float(decay_mult)
        self.key, self.shared_from = key, shared_from

    def __repr__(self):
        return f"Param({self.key!r}, {list(self.blob.shape)}, lr_mult={self.lr_mult})"


class Net:
    """`Net(config_or_path, phase="train", weights=None, mode="cpu", runtime=None)`.

    `forward()` returns the loss, `backward()` fills diffs; `blobs` (name -> Blob),
    `params` (layer name -> list of Blob), `layers`, `save(path)`, `copy_from(path)`.
    `runtime` (layerflow.runtime.Runtime) says where and with how many threads the net
    runs; without one, `mode` and the environment make it. `add_hook(obj)` lets tools watch
    every layer pass (see `forward`). `forward_only=True` (a Solver's test net) says that
    backward will never run: no layer keeps what only backward reads, and the forward folds
    BatchNorm, Scale and ReLU into the layers before them (`_fold_steps`), as in a net
    without a loss."""

    def __init__(self, config_or_path, phase="train", weights=None, mode=None, level=0,
                 stages=(), dtype=np.float32, seed=None, runtime=None, allow_plugins=True,
                 forward_only=False):
        self.phase = phase.upper()
        if self.phase not in ("TRAIN", "TEST"):
            raise ValueError(f"phase must be 'train' or 'test', got '{phase}'")
        if runtime is None:
            runtime = Runtime.create(mode=mode)
        elif mode is not None and mode != runtime.mode:
            raise ValueError(f"mode '{mode}' contradicts the runtime's '{runtime.mode}'")
        self.dtype = np.dtype(dtype)
        self.seed = seed
        root, file = load_config(config_or_path)
        net_cfg, self.file, plugins = net_section(root, file)
        self.name = str(net_cfg.get("name") or root.get("name") or "net")
        self.force_backward = bool(net_cfg.get("force_backward", False))
        with plugins_allowed(allow_plugins):      # False: refuse the config's imports
            self._import_plugins(plugins, net_cfg if net_cfg.get("plugins") else root)
            specs = self._parse_layers(net_cfg, level, stages)
        self._wire(specs)
        self.runtime = runtime.for_net(any(cls.own_threads for _, cls, *_ in specs))
        self.mode = self.runtime.mode
        self.device = self.runtime.device()
        self._hooks = {event: [] for event in HOOK_EVENTS}
        self._setup_layers()
        self._mark_backward()
        if forward_only:
            self.layer_need_backward = [False] * len(self.layers)
            self.bottom_need_backward = [[False] * len(b) for b in self.bottom_vecs]
        for layer, need in zip(self.layers, self.layer_need_backward):
            layer.need_backward = need      # a layer may skip keeping what only backward reads
        self._steps = self._fold_steps()
        if weights is not None:
            self.copy_from(weights)

    # -- parsing ---------------------------------------------------------------------------
    def _import_plugins(self, plugins, holder):
        where = Where(self.file).at(holder, "plugins")
        for module in plugins:
            try:
                import_plugin(str(module))
            except ImportError as exc:
                raise where.error(f"cannot import plug-in module '{module}': {exc}") from None

    def _parse_layers(self, net_cfg, level, stages):
        layers_cfg = net_cfg.get("layers")
        where = Where(self.file).at(net_cfg, "layers")
        if not isinstance(layers_cfg, list) or not layers_cfg:
            raise where.error("'layers' must be a non-empty list of layer mappings")
        specs, names = [], {}
        for i, cfg in enumerate(layers_cfg):
            lw = where.at(layers_cfg, i)
            if not isinstance(cfg, dict):
                raise lw.error(f"layer {i} must be a mapping, got {cfg!r}")
            lw.layer, lw.cfg = str(cfg.get("name", f"#{i}")), cfg
            cls = self._layer_class(cfg, lw)
            common = from_mapping(LayerCommon, cfg, lw, ignore=_param_keys(cls))
            params = from_mapping(cls.Params, cfg, lw, ignore=COMMON_KEYS)
            if not common.keep(self.phase, level, stages):
                continue
            if common.name in names:
                raise lw.at(cfg, "name").error(
                    f"duplicate layer name (first used on line {names[common.name]})")
            names[common.name] = lw.mark[0]
            specs.append((common, cls, params, lw))
        if not specs:
            raise where.error(f"no layer is left for phase {self.phase}")
        return specs

    def _layer_class(self, cfg, lw):
        type_name = cfg.get("type")
        tw = lw.at(cfg, "type")
        if not isinstance(type_name, str):
            raise tw.error("missing layer 'type'" if type_name is None
                           else f"'type' must be a name, got {type_name!r}")
        try:
            return get_layer_class(type_name)
        except KeyError:
            raise tw.error(f"unknown layer type '{type_name}'"
                           + did_you_mean(type_name, layer_types())) from None
        except (ImportError, AttributeError, TypeError) as exc:
            raise tw.error(f"cannot load plug-in layer '{type_name}': {exc}") from None

    # -- wiring ----------------------------------------------------------------------------
    def _wire(self, specs):
        """Resolve bottoms to blob versions, check tops, decide where splits go."""
        current, producers = {}, {}
        values_in, values_out = [], []
        for li, (common, cls, _, lw) in enumerate(specs):
            ins = []
            for bi, b in enumerate(common.bottom):
                if b not in current:
                    raise lw.at(lw.cfg, "bottom").error(
                        self._missing_bottom(b, li, specs, current))
                ins.append(current[b])
                current[b].consumers.append((li, bi))
            outs = []
            for t in common.top:
                if common.top.count(t) > 1:
                    raise lw.at(lw.cfg, "top").error(f"top '{t}' is listed twice")
                v = _Value(t, li)
                if t in common.bottom:
                    if not cls.in_place:
                        raise lw.at(lw.cfg, "top").error(
                            f"{cls.type_name} cannot run in place (top '{t}' is also a bottom)")
                    v.inplace_of = ins[common.bottom.index(t)]
                elif t in current:
                    raise lw.at(lw.cfg, "top").error(
                        f"top '{t}' is already produced by layer '{producers[t]}' "
                        "(only an in-place layer may reuse a name)")
                current[t], producers[t] = v, common.name
                outs.append(v)
            values_in.append(ins)
            values_out.append(outs)
        self._specs, self._values_in, self._values_out = specs, values_in, values_out

    def _missing_bottom(self, b, li, specs, current):
        if b in specs[li][0].top:
            return f"bottom '{b}' forms a cycle: it is this layer's own top"
        later = [(j, c) for j, (c, *_rest) in enumerate(specs) if j > li and b in c.top]
        if later:
            j, c = later[0]
            if _reaches(specs, li, j):
                return (f"bottom '{b}' forms a cycle: it is produced by layer '{c.name}', "
                        f"which depends on this layer")
            return (f"bottom '{b}' is produced by layer '{c.name}', listed later; "
                    "layers run in the order written")
        return f"unknown bottom blob '{b}'" + did_you_mean(b, list(current))

    def _setup_layers(self):
        """Instantiate layers (with splits), assign blobs, run setup and reshape in order."""
        self.layers, self.layer_names = [], []
        self.bottom_vecs, self.top_vecs = [], []
        self.blobs = OrderedDict()
        self._loss_tops = []            # (blob, weight)
        self._param_owner = {}          # shared param name -> (blob, layer name)
        self._learnable = None
        blob_of, feeds = {}, {}
        seed_base = self.seed if self.seed is not None else np.random.SeedSequence().entropy
        for li, (common, cls, params, lw) in enumerate(self._specs):
            rng = np.random.default_rng([int(seed_base) % (2**63), li])
            layer = cls(params, common.name, self.phase, common, rng, self.dtype,
                        runtime=self.runtime)
            self._check_arity(layer, common, lw)
            bottoms = [feeds.pop((li, bi), None) or blob_of[id(v)]
                       for bi, v in enumerate(self._values_in[li])]
            tops = []
            for v in self._values_out[li]:
                blob = (bottoms[self._values_in[li].index(v.inplace_of)] if v.inplace_of
                        else Blob((), self.dtype, name=v.name, device=self.device))
                blob_of[id(v)] = blob
                self.blobs[v.name] = blob
                tops.append(blob)
            self._add_layer(layer, bottoms, tops, lw)
            self._set_loss_weights(layer, common, tops, lw)
            for v, blob, weight in zip(self._values_out[li], tops, self._top_weights):
                self._maybe_split(v, blob, weight, feeds, lw)

    def _check_arity(self, layer, common, lw):
        try:
            layer.check_arity(len(common.bottom), len(common.top))
        except ShapeError as exc:
            key = "bottom" if "bottom" in str(exc) else "top"
            raise lw.at(lw.cfg, key).error(str(exc)) from None

    def _add_layer(self, layer, bottoms, tops, lw):
        try:
            layer.setup(bottoms, tops)
            self._share_params(layer, lw)
            layer.reshape(bottoms, tops)
        except ShapeError as exc:
            raise Where(lw.file, lw.mark).error(str(exc)) from None
        except ConfigError:
            raise
        except ValueError as exc:
            raise lw.error(str(exc)) from None
        self.layers.append(layer)
        self.layer_names.append(layer.name)
        self.bottom_vecs.append(bottoms)
        self.top_vecs.append(tops)
        log.info("%-16s %-18s -> %s", layer.name, layer.type_name,
                 ", ".join(f"{t.name} {list(t.shape)}" for t in tops) or "(no top)")

    def _set_loss_weights(self, layer, common, tops, lw):
        weights = common.loss_weight
        if weights is None:
            weights = [1.0 if (layer.is_loss and i == 0) else 0.0 for i in range(len(tops))]
        elif not isinstance(weights, list):
            weights = [weights] + [0.0] * (len(tops) - 1)
        if len(weights) != len(tops):
            raise lw.at(lw.cfg, "loss_weight").error(
                f"{len(weights)} loss_weight value(s) for {len(tops)} top(s)")
        self._top_weights = weights
        for blob, w in zip(tops, weights):
            if w:
                blob.diff[...] = w
                self._loss_tops.append((blob, float(w)))

    def _maybe_split(self, v, blob, weight, feeds, lw):
        """Insert a Split after the producer when `v` has several readers (or a loss weight
        and readers), so that each reader gets its own diff and the split sums them."""
        readers = len(v.consumers) + (1 if weight else 0)
        if readers <= 1 or len(v.consumers) == 0:
            return
        split_cls = get_layer_class("Split")
        name = f"{v.name}_{self._specs[v.producer][0].name}_split"
        split = split_cls(None, name, self.phase, None, None, self.dtype, runtime=self.runtime)
        split.share_data = not any(o.inplace_of is v for li, _ in v.consumers
                                   for o in self._values_out[li])   # no reader writes it
        tops = [Blob((), self.dtype, name=f"{name}_{j}", device=self.device)
                for j in range(readers)]
        self._add_layer(split, [blob], tops, lw)
        for (li, bi), top in zip(v.consumers, tops):
            feeds[(li, bi)] = top
            self.blobs[top.name] = top
        if weight:
            self._loss_tops = [(b, w) for b, w in self._loss_tops if b is not blob]
            tops[-1].diff[...] = weight
            self._loss_tops.append((tops[-1], float(weight)))

    def _share_params(self, layer, lw):
        for i, blob in enumerate(layer.blobs):
            if i >= len(layer.param_specs) or not layer.param_specs[i].name:
                continue
            pname = layer.param_specs[i].name
            if pname not in self._param_owner:
                self._param_owner[pname] = (blob, layer.name)
                continue
            owner, owner_layer = self._param_owner[pname]
            if owner.shape != blob.shape:
                raise lw.at(lw.cfg, "param").error(
                    f"shared param '{pname}' has shape {list(blob.shape)} here but "
                    f"{list(owner.shape)} in layer '{owner_layer}'")
            layer.blobs[i] = owner

    def _mark_backward(self):
        """Which layers run backward and to which bottoms gradients flow (Caffe's rules)."""
        needs = {}            # id(blob) -> gradient flows into it
        n = len(self.layers)
        self.layer_need_backward = [False] * n
        self.bottom_need_backward = []
        for li, layer in enumerate(self.layers):
            spec_pd = self._propagate_down_spec(li)
            flags = []
            for bi, b in enumerate(self.bottom_vecs[li]):
                want = self.force_backward or needs.get(id(b), False)
                if spec_pd is not None:
                    want = want and spec_pd[bi]
                flags.append(bool(want and layer.can_backprop(bi)))
            has_params = any(self.param_lr_mult(layer, i) != 0 for i in range(len(layer.blobs)))
            self.layer_need_backward[li] = has_params or any(flags)
            self.bottom_need_backward.append(flags)
            for t in self.top_vecs[li]:
                needs[id(t)] = needs.get(id(t), False) or self.layer_need_backward[li]
        self._prune_backward()

    def _fold_steps(self):
        """The layers of a whole forward pass as (layer, bottoms, tops, fold). A CPU
        BatchNorm with global statistics followed at once by a Scale on the channel axis
        and/or a ReLU, each in place on its top and none of the three running backward, is
        one step with fold (scale, relu): one pass (BatchNorm.forward_folded) where there
        were three over memory (MobileNet's 27 triples), as inference engines fold them.
        Where that BatchNorm runs in place on the output of the convolution just before it
        (which runs forward only too), the convolution's step takes it, fold (bn, scale,
        relu): its depthwise and 1x1 kernels fold each plane or slab they write while it is
        in cache. Only in-place layers that follow at once are folded, so no other layer
        could have read the values in between; hooks see every layer (the plain loop)."""
        steps, i, n = [], 0, len(self.layers)
        while i < n:
            layer, bottoms, tops = self.layers[i], self.bottom_vecs[i], self.top_vecs[i]
            i += 1
            fold = None
            if (self.device is None and type(layer) is BatchNorm and layer.use_global
                    and not layer.need_backward):
                scale = relu = None
                if i < n and self._folds_into(i, tops[0], Scale):
                    scale, i = self.layers[i], i + 1
                if i < n and self._folds_into(i, tops[0], ReLU):
                    relu, i = self.layers[i], i + 1
                if steps and self._conv_takes(steps[-1], bottoms, tops):
                    conv, cb, ct, _ = steps.pop()
                    layer, bottoms, tops, fold = conv, cb, ct, (layer, scale, relu)
                elif scale is not None or relu is not None:
                    fold = (scale, relu)
            steps.append((layer, bottoms, tops, fold))
        return steps

    @staticmethod
    def _conv_takes(step, bottoms, tops):
        """Whether the step before a foldable BatchNorm (bottoms, tops) is a forward-only
        convolution whose only top the BatchNorm normalizes in place."""
        conv, _, conv_tops, fold = step
        return (type(conv) in (Convolution, ConvolutionDepthwise) and fold is None
                and not conv.need_backward and len(conv_tops) == 1
                and conv_tops[0] is bottoms[0] and tops[0] is bottoms[0])

    def _folds_into(self, i, blob, kind):
        """Whether layer i is a `kind` (Scale: on the channels, with its own scale) running
        forward only, in place on `blob` alone."""
        layer = self.layers[i]
        bottoms, tops = self.bottom_vecs[i], self.top_vecs[i]
        if (type(layer) is not kind or layer.need_backward or len(bottoms) != 1
                or len(tops) != 1 or bottoms[0] is not blob or tops[0] is not blob):
            return False
        return kind is not Scale or (layer.axis == 1 and layer.blobs[0].shape == (blob.shape[1],))

    def _prune_backward(self):
        """Drop backward from layers whose tops never reach a loss."""
        contributes = {id(b) for b, _ in self._loss_tops}
        for li in reversed(range(len(self.layers))):
            tops = self.top_vecs[li]
            if not any(id(t) in contributes for t in tops):
                self.layer_need_backward[li] = False
                self.bottom_need_backward[li] = [False] * len(self.bottom_vecs[li])
            elif self.layer_need_backward[li]:
                for b, flag in zip(self.bottom_vecs[li], self.bottom_need_backward[li]):
                    if flag:
                        contributes.add(id(b))
            if self.force_backward and any(id(t) in contributes for t in tops):
                for b in self.bottom_vecs[li]:
                    contributes.add(id(b))

    def _propagate_down_spec(self, li):
        spec = self.layers[li].spec
        if spec is None or spec.propagate_down is None:
            return None
        pd = spec.propagate_down
        return pd if isinstance(pd, list) else [pd] * len(self.bottom_vecs[li])

    # -- params ----------------------------------------------------------------------------
    @staticmethod
    def param_lr_mult(layer, i):
        specs = layer.param_specs
        return specs[i].lr_mult if i < len(specs) else 1.0

    @staticmethod
    def param_decay_mult(layer, i):
        specs = layer.param_specs
        return specs[i].decay_mult if i < len(specs) else 1.0

    @property
    def params(self):
        """Layer name -> its learnable blobs (shared blobs appear under each user)."""
        return OrderedDict((l.name, l.blobs) for l in self.layers if l.blobs)

    def learnable_params(self):
        """Each distinct learnable blob once, as a `Param` record, in layer order."""
        if self._learnable is None:
            self._learnable = self._collect_learnable()
        return self._learnable

    def _collect_learnable(self):
        seen, out = set(), []
        for layer in self.layers:
            for i, blob in enumerate(layer.blobs):
                if id(blob) in seen:
                    continue
                seen.add(id(blob))
                specs = layer.param_specs
                shared = specs[i].name if i < len(specs) and specs[i].name else None
                out.append(Param(blob, self.param_lr_mult(layer, i),
                                 self.param_decay_mult(layer, i), f"{layer.name}/{i}", shared))
        return out

    def share_params_from(self, other):
        """Use `other`'s learnable blobs for layers of the same name (train/test nets)."""
        theirs = {l.name: l for l in other.layers}
        for layer in self.layers:
            src = theirs.get(layer.name)
            if src is None or not layer.blobs:
                continue
            for i, blob in enumerate(layer.blobs):
                if i < len(src.blobs) and src.blobs[i].shape == blob.shape:
                    layer.blobs[i] = src.blobs[i]
        self._learnable = None

    # -- running ---------------------------------------------------------------------------
    def add_hook(self, hook):
        """Call `hook`'s methods around every layer pass: `before_forward(net, i)`,
        `after_forward(net, i)`, `before_backward(net, i)`, `after_backward(net, i)` (any
        may be absent). Timing, debug_info, gradient checks, ONNX export and data-parallel
        gradient averaging watch the net this way; with a hook, every layer runs by itself
        (nothing folded, see `_fold_steps`)."""
        for event in HOOK_EVENTS:
            method = getattr(hook, event, None)
            if method is not None:
                self._hooks[event].append(method)
        return hook

    def remove_hook(self, hook):
        for event in HOOK_EVENTS:
            self._hooks[event] = [m for m in self._hooks[event]
                                  if getattr(m, "__self__", None) is not hook]

    def reshape(self):
        """Propagate changed input shapes through every layer (after blob.reshape)."""
        for layer, bottoms, tops in zip(self.layers, self.bottom_vecs, self.top_vecs):
            layer.reshape(bottoms, tops)

    def forward(self, layers=None):
        """Run the layers forward (all, or the indices in `layers`), each reshaped first as
        in Caffe; returns the weighted sum of the loss tops. A whole pass with no hook
        watching runs the folded steps (`_fold_steps`)."""
        threads.apply(self.runtime)
        before, after = self._hooks["before_forward"], self._hooks["after_forward"]
        if layers is None and not before and not after:
            for layer, bottoms, tops, fold in self._steps:
                layer.reshape(bottoms, tops)
                if fold is None:
                    layer.forward(bottoms, tops)
                else:
                    layer.forward_folded(bottoms, tops, *fold)
            return self.loss()
        for i in (range(len(self.layers)) if layers is None else layers):
            for hook in before:
                hook(self, i)
            bottoms, tops = self.bottom_vecs[i], self.top_vecs[i]
            layer = self.layers[i]
            layer.reshape(bottoms, tops)
            layer.forward(bottoms, tops)
            for hook in after:
                hook(self, i)
        return self.loss()

    def loss(self):
        return float(sum(w * float(b.cpu_data.sum()) for b, w in self._loss_tops))

    def backward(self):
        """Run backward from the losses down; bottom diffs written, param diffs added."""
        threads.apply(self.runtime)
        before, after = self._hooks["before_backward"], self._hooks["after_backward"]
        need, down = self.layer_need_backward, self.bottom_need_backward
        for i in range(len(self.layers) - 1, -1, -1):
            if need[i]:
                for hook in before:
                    hook(self, i)
                self.layers[i].backward(self.top_vecs[i], down[i], self.bottom_vecs[i])
                for hook in after:
                    hook(self, i)

    def forward_backward(self):
        loss = self.forward()
        self.backward()
        return loss

    def clear_param_diffs(self):
        for p in self.learnable_params():
            p.blob.zero_diff()

    def output_blobs(self):
        """Tops that no layer reads (Caffe's net outputs): name -> Blob."""
        read = {id(b) for bottoms in self.bottom_vecs for b in bottoms}
        return OrderedDict((t.name, t) for tops in self.top_vecs for t in tops
                           if id(t) not in read)

    # -- weights ---------------------------------------------------------------------------
    def save(self, path):
        """Write the learnable blobs to `.npz` (`{layer}/{index}`), atomically."""
        arrays = OrderedDict()
        for layer in self.layers:
            for i, blob in enumerate(layer.blobs):
                arrays[f"{layer.name}/{i}"] = blob.cpu_data
        save_weights(path, arrays)

    def copy_from(self, path):
        """Load weights saved by `save` into layers of the same name: each array's header is
        checked against the net before it is read. Layers the file does not mention keep
        their values (fine-tuning); a file that matches no layer of this net is refused."""
        copy_weights(self, path)

    def __repr__(self):
        return f"<Net '{self.name}' {self.phase}: {len(self.layers)} layers>"


HOOK_EVENTS = ("before_forward", "after_forward", "before_backward", "after_backward")


def _param_keys(cls):
    return tuple(cls.Params.__dataclass_fields__)


def _reaches(specs, start, target):
    """Whether layer `target` depends (through bottoms) on the tops of layer `start`."""
    produced = set(specs[start][0].top)
    for j in range(start + 1, target + 1):
        common = specs[j][0]
        if any(b in produced for b in common.bottom):
            if j == target:
                return True
            produced.update(common.top)
    return False
