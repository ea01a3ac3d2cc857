"""Layer: the unit of a net. Subclasses declare their Params and arity, then implement
`setup`, `reshape`, `forward` and `backward`, as in Caffe.

- `setup(bottom, top)` runs once: check shapes, create learnable blobs (`add_param`).
- `reshape(bottom, top)` sizes the tops and any buffers whenever input shapes change.
- `forward(bottom, top)` computes tops from bottoms.
- `backward(top, propagate_down, bottom)` writes (does not add to) bottom diffs where
  `propagate_down[i]` is true, and adds into param diffs.

Built-in layers implement `forward_cpu` / `backward_cpu` (and `_gpu` twins where they have
CUDA kernels); `forward` / `backward` pick by the runtime's mode. In CUDA mode a layer with
no GPU twin runs its CPU pair on host copies, which the blobs' heads bring up to date; the
arrays the pair only reads are marked synced again afterwards (by the contract above:
forward writes tops, backward writes bottom diffs and param diffs), so that nothing moves
back up that did not change. That fallback warns once per layer type. A plug-in may simply
override `forward` / `backward`: it then reads and writes host arrays in every mode.
"""
import logging
from dataclasses import dataclass

import numpy as np

from .blob import SYNCED, Blob
from .fillers import FillerSpec, fill
from .runtime import Runtime

log = logging.getLogger("layerflow")
_warned = set()


class ShapeError(ValueError):
    """An input shape a layer cannot take; the message names the layer, blob and shapes."""


class Layer:
    @dataclass
    class Params:
        pass

    # Arity: an exact count or a (min, max) pair, max None meaning unbounded.
    num_bottom = 1
    num_top = 1
    in_place = False        # may run with top == bottom
    is_loss = False         # top[0] carries loss weight 1 by default
    own_threads = False     # runs its own threads (the Net then keeps OpenBLAS at 1 thread)
    type_name = "Layer"

    def __init_subclass__(cls, **kwargs):
        """A class's type name is its own until @register_layer names it: a plug-in layer
        (`type: mypkg.mod:MyLayer`) shows as MyLayer in errors and tables, not as its base."""
        super().__init_subclass__(**kwargs)
        cls.type_name = cls.__name__

    def __init__(self, params=None, name="", phase="TRAIN", spec=None, rng=None,
                 dtype=np.float32, runtime=None):
        self.p = params if params is not None else self.Params()
        self.name = name or self.type_name
        self.phase = phase
        self.spec = spec            # LayerCommon: bottoms, tops, param specs, loss weights
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.dtype = np.dtype(dtype)
        if runtime is None:
            runtime = Runtime.create().for_net(self.own_threads)
        self.runtime = runtime
        self.mode = runtime.mode
        self.device = runtime.device()      # None in CPU mode
        self.blobs = []             # learnable blobs, Caffe's order (weight, bias, ...)
        self.param_specs = list(spec.param) if spec is not None else []

    # -- arity ---------------------------------------------------------------------------
    def check_arity(self, n_bottom, n_top):
        """Raise ShapeError naming the layer when the bottom/top counts are wrong."""
        for what, n, rule in (("bottom", n_bottom, self.num_bottom),
                              ("top", n_top, self.num_top)):
            lo, hi = (rule, rule) if isinstance(rule, int) else rule
            if n < lo or (hi is not None and n > hi):
                want = str(lo) if lo == hi else (f"at least {lo}" if hi is None
                                                  else f"{lo} to {hi}")
                raise ShapeError(f"{self.type_name} takes {want} {what} blob(s), got {n}")

    def can_backprop(self, bottom_index):
        """Whether a gradient can flow to this bottom (False for labels)."""
        return True

    # -- lifecycle -----------------------------------------------------------------------
    def setup(self, bottom, top):
        """Once, before the first reshape: check shapes and create learnable blobs."""

    def reshape(self, bottom, top):
        """Size the tops from the bottoms (default: like bottom[0])."""
        for t in top:
            t.reshape(bottom[0].shape)

    def forward(self, bottom, top):
        if self.device is None:
            return self.forward_cpu(bottom, top)
        if hasattr(self, "forward_gpu"):
            return self.forward_gpu(bottom, top)
        self._warn_fallback("forward")
        # Forward writes its tops (and may update params, as BatchNorm's running stats).
        return _on_host([b._data for b in bottom], [t._data for t in top] +
                        [b._data for b in self.blobs], self.forward_cpu, bottom, top)

    def backward(self, top, propagate_down, bottom):
        if self.device is None:
            return self.backward_cpu(top, propagate_down, bottom)
        if hasattr(self, "backward_gpu"):
            return self.backward_gpu(top, propagate_down, bottom)
        self._warn_fallback("backward")
        reads = [t._data for t in top] + [t._diff for t in top] + \
            [b._data for b in bottom] + [b._data for b in self.blobs]
        writes = [b._diff for b, down in zip(bottom, propagate_down) if down] + \
            [b._diff for b in self.blobs]
        return _on_host(reads, writes, self.backward_cpu, top, propagate_down, bottom)

    def _warn_fallback(self, what):
        kind = (self.type_name, what)
        if kind not in _warned:
            _warned.add(kind)
            log.warning("%s has no CUDA %s: it runs on the CPU, on host copies of its blobs",
                        self.type_name, what)

    def forward_cpu(self, bottom, top):
        raise NotImplementedError(f"{type(self).__name__} implements no forward")

    def backward_cpu(self, top, propagate_down, bottom):
        if any(propagate_down):
            raise NotImplementedError(f"{type(self).__name__} implements no backward")

    # -- helpers -------------------------------------------------------------------------
    def add_param(self, shape, filler=None):
        """Create a learnable blob of `shape`, filled by `filler` (a FillerSpec)."""
        index = len(self.blobs)
        blob = Blob(shape, self.dtype, name=f"{self.name}/{index}", device=self.device)
        fill(blob.data, filler or FillerSpec(), self.rng)
        self.blobs.append(blob)
        return blob

    def shape_error(self, message):
        return ShapeError(f"layer '{self.name}' ({self.type_name}): {message}")

    def __repr__(self):
        return f"<{self.type_name} layer '{self.name}'>"


def _on_host(reads, writes, fn, *args):
    """Run a CPU method in CUDA mode. It only reads `reads` (less any array it also writes,
    as an in-place or shared buffer is), so those that were current on both sides before
    are marked synced again after it ran."""
    written = {id(mem) for mem in writes}
    synced = []
    for mem in reads:
        mem.to_host()
        if mem.head == SYNCED and id(mem) not in written:
            synced.append(mem)
    result = fn(*args)
    for mem in synced:
        mem.head = SYNCED
    return result


def split_shape(shape, axis):
    """(outer, channels, inner) of `shape` around `axis` (negative counts from the end)."""
    axis = axis + len(shape) if axis < 0 else axis
    if not 0 <= axis < len(shape):
        raise ValueError(f"axis {axis} out of range for shape {list(shape)}")
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
    return outer, int(shape[axis]), inner
