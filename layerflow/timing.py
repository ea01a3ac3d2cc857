"""`layerflow time`: per-layer forward/backward times and the memory a net needs to train
(Caffe's `caffe time`, plus a memory split).

    layerflow time configs/lenet.yaml --iterations 50

The net is built in TRAIN phase; one warm-up iteration runs first, and the Numba
compilation it triggers (timed from Numba's own compile events) is reported apart and
kept out of the timings. Then each of `iterations` iterations times every layer's
forward (with its reshape, as the Net runs it) and backward alone.

Memory (bytes of the net's dtype): params (data of each distinct learnable blob), param
grads (their diffs), solver history (blobs per param by rule: SGD 0 without momentum and
1 with it, Nesterov/AdaGrad/RMSProp 1, AdaDelta/Adam/AdamW 2), activations + diffs per
layer (an in-place top costs nothing, and the bytes it saves are shown), the layers' own
buffers (im2col columns, masks ...), and, apart, what data layers hold (the dataset).
"""
import contextlib
import time
from dataclasses import dataclass, field

import numpy as np

from .blob import Blob

HISTORY_BLOBS = {"SGD": None, "Nesterov": 1, "AdaGrad": 1, "RMSProp": 1, "AdaDelta": 2,
                 "Adam": 2, "AdamW": 2}


@dataclass
class LayerTiming:
    name: str
    type: str
    forward_ms: np.ndarray
    backward_ms: np.ndarray | None
    top_bytes: int = 0             # data + diff of the tops this layer allocates
    inplace_saved: int = 0         # bytes an in-place top saves
    buffer_bytes: int = 0          # the layer's own arrays (not blobs it shares)
    tops: str = ""


@dataclass
class TimingReport:
    net_name: str
    phase: str
    iterations: int
    dtype: str
    compile_s: float
    warmup_s: float
    layers: list = field(default_factory=list)
    forward_total_ms: np.ndarray = None
    backward_total_ms: np.ndarray = None
    iteration_ms: np.ndarray = None
    memory: dict = field(default_factory=dict)
    cpu_ms: float = 0.0            # process CPU time per iteration (all threads)
    wall_ms: float = 0.0           # wall time per iteration, timing overhead included
    runtime: str = ""              # the net's runtime (mode, threads), as Runtime.describe
    clock: str = "host clock"      # how layers were timed: "CUDA events" in CUDA mode


@contextlib.contextmanager
def numba_compile_timer():
    """Yields a one-item list that holds, on exit, the seconds Numba spent compiling
    (outermost compile events only, so nested compiles are not counted twice)."""
    out = [0.0]
    try:
        from numba.core import event as ev
    except ImportError:                      # pragma: no cover - numba is a dependency
        yield out
        return

    class _Listener(ev.Listener):
        def __init__(self):
            self.depth, self.t0 = 0, 0.0

        def on_start(self, event):
            if self.depth == 0:
                self.t0 = time.perf_counter()
            self.depth += 1

        def on_end(self, event):
            self.depth -= 1
            if self.depth == 0:
                out[0] += time.perf_counter() - self.t0

    listener = _Listener()
    ev.register("numba:compile", listener)
    try:
        yield out
    finally:
        ev.unregister("numba:compile", listener)


def history_blobs(solver_section):
    """History blobs per learnable param for a `solver:` mapping (None: no solver)."""
    if not solver_section:
        return None
    kind = solver_section.get("type", "SGD")
    n = HISTORY_BLOBS.get(kind, 1)
    if n is None:                            # SGD: momentum needs one blob, plain SGD none
        n = 1 if float(solver_section.get("momentum", 0) or 0) else 0
    return n


class _LayerClock:
    """A net hook that times each layer's forward (with its reshape, as the net runs it)
    and backward in the iteration `it`."""

    def __init__(self, iterations, n):
        self.fwd = np.zeros((iterations, n))
        self.bwd = np.zeros((iterations, n))
        self.it, self.t = 0, 0.0

    def before_forward(self, net, i):
        self.t = time.perf_counter()

    def after_forward(self, net, i):
        self.fwd[self.it, i] = time.perf_counter() - self.t

    before_backward = before_forward

    def after_backward(self, net, i):
        self.bwd[self.it, i] = time.perf_counter() - self.t


class _EventClock(_LayerClock):
    """In CUDA mode: each layer's forward and backward timed on the device, by a pair of
    CUDA events recorded around it (wall time would measure only the kernel launches).
    The events are made once, read after the iteration's last kernel (`finish`)."""

    def __init__(self, iterations, n, device):
        super().__init__(iterations, n)
        self.device = device
        self.events = {(k, i, e): device.event() for k in "fb" for i in range(n) for e in (0, 1)}
        self.recorded = set()

    def before_forward(self, net, i):
        self._record("f", i, 0)

    def after_forward(self, net, i):
        self._record("f", i, 1)

    def before_backward(self, net, i):
        self._record("b", i, 0)

    def after_backward(self, net, i):
        self._record("b", i, 1)

    def _record(self, kind, i, end):
        self.events[kind, i, end].record()
        self.recorded.add((kind, i))

    def finish(self):
        """Wait for the device, then write this iteration's milliseconds."""
        self.device.synchronize()
        for kind, i in self.recorded:
            out = self.fwd if kind == "f" else self.bwd
            out[self.it, i] = self.events[kind, i, 0].elapsed_time(self.events[kind, i, 1]) / 1e3
        self.recorded.clear()


def time_net(config, iterations=50, phase="train", mode=None, seed=1, runtime=None):
    """Build the net, warm up once, time `iterations` iterations -> TimingReport."""
    from .config import load_config
    from .net import Net
    root, _file = load_config(config)
    solver = root.get("solver") if isinstance(root, dict) and \
        isinstance(root.get("solver"), dict) else None
    with numba_compile_timer() as compiled:
        t0 = time.perf_counter()
        net = Net(root, phase, mode=mode, seed=seed, runtime=runtime)
        net.clear_param_diffs()
        net.forward_backward()
        warmup = time.perf_counter() - t0
    events = net.device is not None and hasattr(net.device, "event")
    clock = net.add_hook(_EventClock(iterations, len(net.layers), net.device) if events
                         else _LayerClock(iterations, len(net.layers)))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for it in range(iterations):
        clock.it = it
        net.clear_param_diffs()
        net.forward_backward()
        if events:
            clock.finish()
    net.remove_hook(clock)
    cpu_ms = (time.process_time() - cpu0) * 1e3 / max(iterations, 1)
    wall_ms = (time.perf_counter() - wall0) * 1e3 / max(iterations, 1)
    fwd, bwd = clock.fwd * 1e3, clock.bwd * 1e3
    report = TimingReport(net.name, net.phase, iterations, net.dtype.name, compiled[0], warmup)
    report.runtime = net.runtime.describe()
    report.clock = "CUDA events" if events else "host clock"
    for li, layer in enumerate(net.layers):
        report.layers.append(LayerTiming(
            layer.name, layer.type_name, fwd[:, li],
            bwd[:, li] if net.layer_need_backward[li] else None,
            tops=", ".join(f"{t.name} {list(t.shape)}" for t in net.top_vecs[li])))
    report.forward_total_ms = fwd.sum(axis=1)
    report.backward_total_ms = bwd.sum(axis=1)
    report.iteration_ms = report.forward_total_ms + report.backward_total_ms
    report.memory = memory_report(net, solver, report.layers)
    report.cpu_ms, report.wall_ms = cpu_ms, wall_ms
    from .kernels.cpu import isa
    report.algorithms = [f"{layer.name}: {layer.algorithm()}" for layer in net.layers
                         if hasattr(layer, "algorithm")] + [f"CPU: {isa.features()}"]
    return report


def _blob_bytes(blob):
    return sum(buf.nbytes for buf in blob.buffers())


def memory_report(net, solver_section=None, layer_rows=None):
    """The training footprint of `net` in bytes, split as the module docstring says; fills
    `top_bytes`, `inplace_saved` and `buffer_bytes` of `layer_rows` when given."""
    params = net.learnable_params()
    param_bytes = sum(p.blob.buffers()[0].nbytes for p in params)
    grad_bytes = sum(p.blob.buffers()[1].nbytes for p in params)
    per_param = history_blobs(solver_section)
    history = (per_param or 0) * param_bytes
    param_ids = {id(b) for layer in net.layers for b in layer.blobs}
    seen_blobs, seen_arrays = set(), set()
    for layer in net.layers:
        for b in layer.blobs:
            seen_arrays.update(id(buf) for buf in b.buffers())
    activations = saved = buffers = dataset = 0
    for li, layer in enumerate(net.layers):
        bottoms, tops = net.bottom_vecs[li], net.top_vecs[li]
        top_bytes = inplace = 0
        for t in tops:
            if any(t is b for b in bottoms):
                inplace += t.cpu_data.nbytes + t.cpu_diff.nbytes
            elif id(t) not in seen_blobs:
                seen_blobs.add(id(t))
                top_bytes += _blob_bytes(t)
                seen_arrays.update(id(buf) for buf in t.buffers())
        own = _layer_buffers(layer, param_ids, seen_arrays)
        if layer.num_bottom == 0 and not bottoms:
            dataset += own
            own = 0
        activations += top_bytes
        saved += inplace
        buffers += own
        if layer_rows is not None:
            row = layer_rows[li]
            row.top_bytes, row.inplace_saved, row.buffer_bytes = top_bytes, inplace, own
    total = param_bytes + grad_bytes + history + activations + buffers
    return {"params": param_bytes, "param_grads": grad_bytes, "solver_history": history,
            "history_blobs_per_param": per_param,
            "solver_type": (solver_section or {}).get("type", "SGD") if solver_section else None,
            "activations_diffs": activations, "inplace_saved": saved, "layer_buffers": buffers,
            "total": total, "dataset": dataset,
            "num_params": sum(p.blob.count for p in params)}


def _layer_buffers(layer, param_ids, seen):
    """Bytes of the numpy arrays and private Blobs a layer keeps in its attributes."""
    total = 0
    for value in vars(layer).values():
        items = value if isinstance(value, (list, tuple)) else [value]
        for v in items:
            if isinstance(v, Blob) and id(v) not in param_ids:
                for buf in v.buffers():
                    if id(buf) not in seen:
                        seen.add(id(buf))
                        total += buf.nbytes
            elif isinstance(v, np.ndarray):
                base = v
                while isinstance(base.base, np.ndarray):
                    base = base.base
                if id(base) not in seen:
                    seen.add(id(base))
                    total += base.nbytes
    return total


def _mb(n):
    return f"{n / 2**20:9.2f} MB"


def _ms(a):
    return f"{a.mean():8.3f} ± {a.std():6.3f} ({np.median(a):7.3f})"


def format_report(r):
    """The report as text: the per-layer table, the totals and the memory split."""
    lines = [f"Net '{r.net_name}' ({r.phase}, {r.dtype}): {r.iterations} timed iterations "
             f"after 1 warm-up; {r.runtime}; layers timed by {r.clock}",
             f"Numba compilation: {r.compile_s:.2f} s (in the warm-up iteration of "
             f"{r.warmup_s:.2f} s; kept out of the timings)", ""]
    w = max([len(l.name) for l in r.layers] + [5])
    tw = max([len(l.type) for l in r.layers] + [4])
    lines.append(f"{'layer':<{w}}  {'type':<{tw}}  {'forward ms: mean ± sd (median)':>32}  "
                 f"{'backward ms: mean ± sd (median)':>32}  {'tops+diffs':>12}  "
                 f"{'buffers':>12}")
    for l in r.layers:
        back = _ms(l.backward_ms) if l.backward_ms is not None else "-"
        top = _mb(l.top_bytes) if not l.inplace_saved else "in place"
        lines.append(f"{l.name:<{w}}  {l.type:<{tw}}  {_ms(l.forward_ms):>32}  {back:>32}  "
                     f"{top:>12}  {_mb(l.buffer_bytes):>12}")
    lines += ["Algorithms:"] + [f"  {a}" for a in getattr(r, "algorithms", [])]
    lines += ["",
              f"Average forward pass:          {_ms(r.forward_total_ms)} ms",
              f"Average backward pass:         {_ms(r.backward_total_ms)} ms",
              f"Average forward-backward:      {_ms(r.iteration_ms)} ms",
              f"Per iteration: {r.wall_ms:.3f} ms wall, {r.cpu_ms:.3f} ms process CPU time "
              "(all threads; steadier than wall time on a loaded machine)", ""]
    m = r.memory
    hist = m["history_blobs_per_param"]
    hist_note = ("no solver in the config" if hist is None else
                 f"{m['solver_type']}: {hist} blob(s) per param")
    lines += [f"Memory for training ({m['num_params']:,} learnable values):",
              f"  params                 {_mb(m['params'])}",
              f"  param grads            {_mb(m['param_grads'])}",
              f"  solver history         {_mb(m['solver_history'])}   ({hist_note})",
              f"  activations + diffs    {_mb(m['activations_diffs'])}   "
              f"(in-place layers save {_mb(m['inplace_saved']).strip()})",
              f"  layer buffers          {_mb(m['layer_buffers'])}",
              f"  total                  {_mb(m['total'])}",
              f"  (data layers also hold {_mb(m['dataset']).strip()} of dataset)"]
    return "\n".join(lines)
