"""Solver: the training loop shared by every update rule (Caffe's Solver).

Per iteration: clear param diffs; `iter_size` forward+backward passes (diffs accumulate);
then `apply_update`: the rate from the lr policy, the gradient scale (1/iter_size, then
global-norm clipping), and the rule's own fused update with weight decay folded in. Tests run
every `test_interval` iterations over `test_iter` batches; the smoothed loss is displayed
every `display`; snapshots go out every `snapshot` iterations, at the end, on a signal and on
`snapshot()`. A non-finite loss or gradient stops the run (NonFiniteError) before any weight
changes, naming the iteration and the layer, and writes no snapshot.

Snapshots are two files, `{prefix}_iter_{N}.weights.npz` (the net's weights, for `--weights`
and `layerflow test`) and `{prefix}_iter_{N}.state.npz` (everything `--resume` needs: the
iteration, weights, every history blob, each layer's random generator, data-layer cursors,
NumPy's global generator and the smoothed-loss window). Each is written atomically.
"""
import glob
import json
import logging
import math
import os
import re
import time
from collections import deque
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..backends import cpu_kernels
from ..blob import Blob
from ..config import Where, from_mapping, load_config, solver_section
from ..io.solver_state import load_solver_state
from ..io.weights import WeightsFileError, load_weights, save_npz_atomic
from ..net import Net
from ..runtime import Runtime
from .guard import DebugRunner, NonFiniteError, locate_backward, locate_forward
from .lr_policy import learning_rate
from .params import SolverParams
from .signals import SignalActions

log = logging.getLogger("layerflow")
_SOLVERS = {}
STATE_FORMAT = "layerflow-solver-state"
STATE_VERSION = 1


def register_solver(name):
    """Class decorator: make `name` usable as `solver: {type: name}`. Twice is an error."""
    def wrap(cls):
        if name in _SOLVERS and _SOLVERS[name] is not cls:
            raise ValueError(f"solver type '{name}' is already registered "
                             f"(by {_SOLVERS[name].__module__})")
        _SOLVERS[name] = cls
        cls.type_name = name
        return cls
    return wrap


def solver_types():
    return sorted(_SOLVERS)


def find_snapshots(prefix):
    """{iteration: {"weights": path, "state": path}} of the snapshots written under `prefix`."""
    prefix = Path(prefix)
    pattern = re.compile(re.escape(prefix.name) + r"_iter_(\d+)\.(weights|state)\.npz")
    found = {}
    for f in prefix.parent.glob(glob.escape(prefix.name) + "_iter_*.npz"):
        m = pattern.fullmatch(f.name)
        if m:
            found.setdefault(int(m[1]), {})[m[2]] = f
    return dict(sorted(found.items()))


def latest_state(prefix):
    """The newest `.state.npz` under `prefix`, or None."""
    states = [v["state"] for v in find_snapshots(prefix).values() if "state" in v]
    return states[-1] if states else None


class Solver:
    """`Solver(config_or_path, max_iter=None, mode=None, weights=None, quiet=False)` builds
    the train and test nets and picks the update rule from `solver: {type: ...}`;
    `step(n)` trains n iterations, `solve(resume=None)` runs to `max_iter`."""

    type_name = "Solver"
    history_per_param = 1          # history blobs per learnable param (Adam: 2)
    kernel_module = None           # kernels/<backend>/<name>.py holding the rule's update

    def __new__(cls, config_or_path=None, *args, **overrides):
        if cls is Solver:
            root, file = load_config(config_or_path)
            section = solver_section(root, file)
            kind = section.get("type", "SGD")
            if kind not in _SOLVERS:
                from ..config.errors import did_you_mean
                raise Where(file).at(section, "type").error(
                    f"solver type '{kind}' is not available" + did_you_mean(kind, _SOLVERS))
            cls = _SOLVERS[kind]
        return super().__new__(cls)

    def __init__(self, config_or_path, max_iter=None, mode=None, weights=None, quiet=False,
                 dtype=None, runtime=None, threads=None):
        root, file = load_config(config_or_path)
        self.config_file = file
        section = solver_section(root, file)
        self.p = from_mapping(SolverParams, section, Where(file).at(root, "solver"))
        if max_iter is not None:
            self.p.max_iter = max_iter
        if mode is not None:
            self.p.mode = mode
        if runtime is None:
            runtime = Runtime.create(mode=self.p.mode, device_id=self.p.device_id,
                                     threads=threads or self.p.threads or None)
        self.runtime = runtime
        seed = self.p.random_seed if self.p.random_seed >= 0 else None
        dtype = np.float32 if dtype is None else dtype
        self.net = Net(root, "train", seed=seed, dtype=dtype, runtime=runtime)
        self.test_net = None
        if self.p.test_interval or self.p.test_iter:
            self.test_net = Net(root, "test", dtype=dtype, runtime=runtime,
                                seed=None if seed is None else seed + 1, forward_only=True)
            self.test_net.share_params_from(self.net)
        self.weights_file = weights
        if weights is not None:
            self._finetune_from(weights)
        self.params = self.net.learnable_params()
        device = self.net.device
        self.history = [[Blob(p.blob.shape, dtype, name=f"{p.key}/history/{j}", device=device)
                         for j in range(self.history_per_param)] for p in self.params]
        # The rule's kernels and the arrays they take, by backend: flat host views on the
        # CPU, device arrays in CUDA mode (kernels/cuda/<name>.py, same function names).
        pick = cpu_kernels if device is None else device.kernels
        self.kernels = pick(self.kernel_module) if self.kernel_module else None
        self.norms = pick("solver_norms")
        # one float64 per learned param: its gradient's sum of squares, where the gradients are
        self._norm_slots = (np.zeros if device is None else device.zeros)(
            max(1, sum(p.lr_mult != 0 for p in self.params)), np.float64)
        self._arrays = _host_arrays if device is None else _device_arrays
        self.iter = 0
        self.losses = deque(maxlen=self.p.average_loss)
        self.smoothed_loss = float("nan")
        self.last_test = None
        self.quiet = quiet
        self.metrics_path = Path(self.p.snapshot_prefix + "_metrics.jsonl")
        self.stop_requested = False
        self.last_snapshot = None      # the state file of the newest snapshot
        self._snapshot_iter = None
        self._signals = None
        self._debug = DebugRunner(self.net) if self.p.debug_info else None
        self.callbacks = []
        self.world_size = runtime.world_size     # MPI ranks training together (parallel/)
        self.rank = runtime.rank                 # only rank 0 tests, logs metrics, writes files

    def add_callback(self, callback):
        """Caffe's Solver::Callback: `callback.on_start(solver)` runs before each iteration's
        forward passes, `callback.on_gradients_ready(solver)` after them and before the
        update (where data-parallel training averages the gradients), and
        `callback.on_metric(solver, record)` with each record written to the metrics file
        (TensorBoard logging), `callback.on_snapshot(solver)` on every rank before a
        snapshot is written, `callback.state_arrays(solver)` -> arrays added to the state
        file, `callback.on_restore(solver, arrays)` after a resume loaded it (data-parallel
        training's per-rank data cursors); any may be absent."""
        self.callbacks.append(callback)

    def _finetune_from(self, path):
        arrays = load_weights(path)
        if "solver_type" in arrays:
            raise WeightsFileError(f"{path}: is a solver state; resume from it with --resume, "
                                   "or pass its .weights.npz to fine-tune")
        keys = {f"{l.name}/{i}" for l in self.net.layers for i in range(len(l.blobs))}
        if keys and not keys & set(arrays):
            raise WeightsFileError(f"{path}: none of its arrays ({', '.join(sorted(arrays)[:4])}"
                                   f"...) names a param of this net ({', '.join(sorted(keys)[:4])}"
                                   "...)")
        self.net.copy_from(path)
        log.info("Fine-tuning from %s", path)

    # -- the loop --------------------------------------------------------------------------
    def solve(self, resume=None):
        """Train from iteration 0 (or a snapshot's) to max_iter; snapshot and test at the end.
        SIGINT/SIGTERM/SIGHUP act as `sigint_effect` / `sigterm_effect` / `sighup_effect`."""
        if resume is not None:
            if self.weights_file is not None:
                raise ValueError("give either weights to fine-tune from or a state to resume "
                                 "from, not both")
            self.restore(resume)
        self._trim_metrics()
        self._remove_stale_temporaries()
        log.info("Solving %s (%s), %d iterations", self.net.name, self.type_name,
                 self.p.max_iter)
        with SignalActions(self.p) as self._signals:
            try:
                self.step(self.p.max_iter - self.iter)
                if self.stop_requested:
                    log.info("Optimization stopped early at iteration %d (%s).", self.iter,
                             self._signals.received or "stop requested")
                    return self
                if self.p.snapshot_after_train and self._snapshot_iter != self.iter:
                    self.snapshot()
            finally:
                self._signals = None
        if self.p.display and self.iter % self.p.display == 0:
            log.info("Iteration %d, loss = %.6g", self.iter, self.smoothed_loss)
        if self.test_net is not None and self.p.test_interval and \
                self.iter % self.p.test_interval == 0:
            self.test()
        log.info("Optimization Done.")
        return self

    def step(self, n):
        """Run n training iterations (fewer if a stop is requested)."""
        stop = self.iter + n
        # tqdm: a bar on a terminal or in a notebook, nothing in a redirected log
        bar = None if self.quiet else tqdm(total=stop, initial=self.iter, unit="it",
                                           mininterval=0.2, disable=None, leave=False)
        tic, tic_iter = time.perf_counter(), self.iter
        try:
            while self.iter < stop and not self.stop_requested:
                if self._test_due():
                    self.test()
                    if self._poll_signals():
                        break
                for cb in self.callbacks:
                    getattr(cb, "on_start", _noop)(self)
                self._clear_diffs()
                loss = 0.0
                for _ in range(self.p.iter_size):
                    part = self._forward_backward()
                    if not math.isfinite(part):
                        raise self._nonfinite("loss", part)
                    loss += part
                loss /= self.p.iter_size
                for cb in self.callbacks:
                    getattr(cb, "on_gradients_ready", _noop)(self)
                self._smooth(loss)
                rate = self.apply_update()
                if self.p.display and self.iter % self.p.display == 0:
                    toc = time.perf_counter()
                    self._display(rate, (self.iter - tic_iter + 1) / max(toc - tic, 1e-9))
                    tic, tic_iter = toc, self.iter + 1
                self.iter += 1
                if bar is not None:
                    bar.set_postfix_str(f"loss {self.smoothed_loss:.4g}", refresh=False)
                    bar.update(1)
                if self.p.snapshot and self.iter % self.p.snapshot == 0:
                    self.snapshot()
                if self._poll_signals():
                    break
        finally:
            if bar is not None:
                bar.close()
        return self.smoothed_loss

    def _forward_backward(self):
        if self._debug is not None:
            self._debug.iteration = self.iter
            try:
                return self.net.forward_backward()
            except NonFiniteError as exc:
                raise self._nonfinite(exc.what, "found by debug_info",
                                      (exc.layer, exc.where)) from None
        return self.net.forward_backward()

    def _clear_diffs(self):
        self.net.clear_param_diffs()

    def _poll_signals(self):
        """Act on a pending signal: snapshot, and for 'stop' end the loop (returns True)."""
        request = self._signals.take() if self._signals is not None else None
        if request is None:
            return False
        log.info("%s received at iteration %d: %s", self._signals.received, self.iter,
                 "snapshot and stop" if request == "stop" else "snapshot")
        if self._snapshot_iter != self.iter:
            self.snapshot()
        if request == "stop":
            self.stop_requested = True
        return self.stop_requested

    def _test_due(self):
        return (self.test_net is not None and self.p.test_interval and
                self.iter % self.p.test_interval == 0 and
                (self.iter > 0 or self.p.test_initialization))

    def _smooth(self, loss):
        self.losses.append(loss)
        self.smoothed_loss = math.fsum(self.losses) / len(self.losses)

    def _display(self, rate, speed):
        log.info("Iteration %d (%.1f iter/s), loss = %.6g", self.iter, speed, self.smoothed_loss)
        for name, blob in self.net.output_blobs().items():
            log.info("    Train net output: %s = %.6g", name, float(blob.cpu_data.mean()))
        log.info("Iteration %d, lr = %.6g", self.iter, rate)
        self._metric({"iter": self.iter, "phase": "train", "loss": self.smoothed_loss,
                      "lr": rate, "iter_per_s": speed})

    # -- guard rails -----------------------------------------------------------------------
    def _nonfinite(self, what, value, found=None):
        """The NonFiniteError for this iteration: the layer (`found` = (name, text) when
        debug_info already knows it), the iteration and the last snapshot."""
        if found is None:
            layer, where = (locate_forward if what == "loss" else locate_backward)(self.net)
            if layer is None and what == "loss":
                layer, where = locate_backward(self.net)
            found = (layer.name if layer else None, where)
        name, where = found
        where = where or "no layer's output or gradient holds the non-finite value"
        kept = (f"the last snapshot, {self.last_snapshot}, is left as it was"
                if self.last_snapshot else "no snapshot was written")
        hint = ("" if self._debug is not None else " Set 'debug_info: true' to print every "
                "layer's data and diff norms.")
        return NonFiniteError(
            f"iteration {self.iter}: non-finite {what} ({value}): {where}. Training stopped "
            f"before updating the weights; {kept}.{hint}", self.iter, name, what, where)

    # -- update ----------------------------------------------------------------------------
    def apply_update(self):
        """Scale (1/iter_size, clipping), regularize and update every param; returns the rate.
        Raises NonFiniteError, leaving the weights untouched, if a gradient is not finite."""
        rate = learning_rate(self.p, self.iter)
        total = self._gradient_sumsq()
        arrays = self._arrays
        if not math.isfinite(total):
            raise self._nonfinite("gradient", total)
        scale = 1.0 / self.p.iter_size
        if self.p.clip_gradients > 0:
            norm = scale * math.sqrt(total)
            if norm > self.p.clip_gradients:
                log.info("Gradient clipping: scaling down gradients (L2 norm %.6g > %.6g) by "
                         "scale factor %.6g", norm, self.p.clip_gradients,
                         self.p.clip_gradients / norm)
                scale *= self.p.clip_gradients / norm
        if self._debug is not None:
            self._debug.summary(self.params)
        l1 = self.p.regularization_type == "L1"
        decay = self.p.weight_decay
        for p, hist in zip(self.params, self.history):
            if p.lr_mult == 0:
                continue
            w, g = arrays(p.blob)
            self.update_param(w, g, [arrays(h)[0] for h in hist], rate * p.lr_mult, scale,
                              decay * p.decay_mult, l1)
        if self._debug is not None:
            self._debug.updated(self.params)
        return rate

    def _gradient_sumsq(self):
        """The sum of squares of every learned gradient (clipping and the non-finite guard).
        Each param's sum goes into a slot where the gradients are; the total comes back as
        one number, so CUDA mode reads one float per iteration, not one per param."""
        k = 0
        for p in self.params:
            if p.lr_mult != 0:
                self.norms.sumsq(self._arrays(p.blob)[1], self._norm_slots, k)
                k += 1
        return self.norms.slots_total(self._norm_slots, k) if k else 0.0

    def update_param(self, w, g, history, lr, grad_scale, decay, l1):
        """Apply this rule's update to flat weights `w` given gradient `g` and the history
        arrays (each rule, through `self.kernels`: host arrays on the CPU, device arrays in
        CUDA mode)."""
        raise NotImplementedError

    # -- testing ---------------------------------------------------------------------------
    def test(self):
        """Average each test-net output over test_iter batches; log and record them (rank 0
        of an MPI job only)."""
        if self.rank:
            return None
        log.info("Iteration %d, Testing net", self.iter)
        sums = {}
        for _ in range(self.p.test_iter):
            self.test_net.forward()
            for name, blob in self.test_net.output_blobs().items():
                sums[name] = sums.get(name, 0.0) + float(blob.cpu_data.mean())
        record = {"iter": self.iter, "phase": "test"}
        for name, total in sums.items():
            record[name] = total / max(self.p.test_iter, 1)
            log.info("    Test net output: %s = %.6g", name, record[name])
        self._metric(record)
        self.last_test = record
        return record

    def _metric(self, record):
        if self.rank:
            return
        self.metrics_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        for cb in self.callbacks:
            getattr(cb, "on_metric", _noop_record)(self, record)

    def _trim_metrics(self):
        """Keep only the records of iterations before this run starts, so that a resumed
        run's metrics read as one uninterrupted run (a killed run may have logged past its
        last snapshot, or died mid-line)."""
        path = self.metrics_path
        if self.rank or not path.exists():
            return
        if self.iter == 0:
            path.unlink()
            return
        kept = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("iter", 0) < self.iter:
                kept.append(line + "\n")
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("".join(kept), encoding="utf-8")
        os.replace(tmp, path)

    # -- snapshots -------------------------------------------------------------------------
    def snapshot_paths(self, it=None):
        stem = f"{self.p.snapshot_prefix}_iter_{self.iter if it is None else it}"
        return Path(stem + ".weights.npz"), Path(stem + ".state.npz")

    def snapshot(self):
        """Write weights, then the full solver state (each atomically), named by iteration;
        with `snapshot_keep: N`, remove all but the N newest snapshots. Every rank of an MPI
        job calls it (its callbacks gather what rank 0 writes); only rank 0 writes."""
        for cb in self.callbacks:
            getattr(cb, "on_snapshot", _noop)(self)
        if self.rank:
            self._snapshot_iter = self.iter
            return None
        weights, state = self.snapshot_paths()
        self.net.save(weights)
        save_npz_atomic(state, self.state_arrays())
        log.info("Snapshotting to %s and %s", weights, state)
        self._snapshot_iter, self.last_snapshot = self.iter, state
        if self.p.snapshot_keep:
            self._prune(self.p.snapshot_keep)
        return weights, state

    def _prune(self, keep):
        """Delete the snapshots before the newest `keep` up to this iteration; later ones
        (another run's, under the same prefix) are left alone."""
        snaps = find_snapshots(self.p.snapshot_prefix)
        older = [it for it in snaps if it < self.iter]
        for it in older[:max(len(older) - (keep - 1), 0)]:
            for f in snaps[it].values():
                try:
                    f.unlink()
                except FileNotFoundError:
                    pass

    def _remove_stale_temporaries(self):
        """Temporary files a killed snapshot left behind (never renamed, so never used)."""
        if self.rank:
            return
        prefix = Path(self.p.snapshot_prefix)
        for f in prefix.parent.glob("." + glob.escape(prefix.name) + "_iter_*.tmp"):
            try:
                f.unlink()
            except OSError:
                pass

    def state_arrays(self):
        arrays = {"format": np.array(STATE_FORMAT), "version": np.array(STATE_VERSION),
                  "iter": np.array(self.iter), "solver_type": np.array(self.type_name),
                  "smoothed_losses": np.array(list(self.losses), np.float64),
                  "signature": np.array(self._signature())}
        for p, hist in zip(self.params, self.history):
            arrays[f"weights/{p.key}"] = p.blob.cpu_data
            for j, h in enumerate(hist):
                arrays[f"history/{p.key}/{j}"] = h.cpu_data
        kind, keys, pos, has_gauss, cached = np.random.get_state()
        arrays["numpy_global/keys"] = keys
        arrays["numpy_global/rest"] = np.array([pos, has_gauss, cached], np.float64)
        for tag, net in self._nets():
            for layer in net.layers:
                arrays[f"rng/{tag}/{layer.name}"] = np.array(
                    json.dumps(layer.rng.bit_generator.state))
                state = layer.state() if hasattr(layer, "state") else {}
                for k, v in state.items():
                    if k == "rng":
                        continue
                    value = np.asarray(v) if not isinstance(v, (dict, str)) else None
                    if value is None or value.dtype == object:
                        arrays[f"layer_json/{tag}/{layer.name}/{k}"] = np.array(json.dumps(v))
                    else:
                        arrays[f"layer/{tag}/{layer.name}/{k}"] = value
        for cb in self.callbacks:
            arrays.update(getattr(cb, "state_arrays", _no_arrays)(self))
        return arrays

    def _nets(self):
        return [(tag, net) for tag, net in (("train", self.net), ("test", self.test_net))
                if net is not None]

    def _signature(self):
        return ";".join(f"{p.key}:{'x'.join(map(str, p.blob.shape))}" for p in self.params)

    def restore(self, path):
        """Continue from a state file written by `snapshot`, exactly where it stopped."""
        arrays = load_solver_state(path, self)   # every field checked against this solver
        if "solver_type" not in arrays or "iter" not in arrays or "signature" not in arrays:
            raise WeightsFileError(f"{path}: not a layerflow solver state file (its arrays: "
                                   f"{', '.join(sorted(arrays)[:5]) or 'none'})")
        if str(arrays.get("format", STATE_FORMAT)) != STATE_FORMAT or \
                int(arrays.get("version", STATE_VERSION)) > STATE_VERSION:
            raise WeightsFileError(f"{path}: a solver state of an unknown format or newer "
                                   "version")
        kind = str(arrays["solver_type"])
        if kind != self.type_name:
            raise WeightsFileError(f"{path}: written by the {kind} solver; this config uses "
                                   f"{self.type_name} (its history would not apply)")
        theirs, ours = str(arrays["signature"]), self._signature()
        if theirs != ours:
            diff = sorted(set(theirs.split(";")) ^ set(ours.split(";")))
            raise WeightsFileError(f"{path}: written for a different net (params that differ, "
                                   f"as name:shape: {', '.join(diff[:6])})")
        ranks = int(arrays.get("mpi/world_size", 1))
        if ranks != self.world_size:
            raise WeightsFileError(f"{path}: written by a run on {ranks} MPI rank(s); this run "
                                   f"has {self.world_size}: resume with the same number "
                                   f"(mpirun -n {ranks}), the data cursors are per rank")
        try:
            self._load_state(arrays)
        except (KeyError, ValueError) as exc:
            raise WeightsFileError(f"{path}: incomplete solver state ({exc})") from None
        self.last_snapshot, self._snapshot_iter = Path(path), self.iter
        for cb in self.callbacks:
            getattr(cb, "on_restore", _noop_record)(self, arrays)
        log.info("Resumed from %s at iteration %d", path, self.iter)

    def _load_state(self, arrays):
        for p, hist in zip(self.params, self.history):
            p.blob.data[...] = arrays[f"weights/{p.key}"]
            for j, h in enumerate(hist):
                h.data[...] = arrays[f"history/{p.key}/{j}"]
        if "numpy_global/keys" in arrays:
            pos, has_gauss, cached = arrays["numpy_global/rest"]
            np.random.set_state(("MT19937", arrays["numpy_global/keys"], int(pos),
                                 int(has_gauss), float(cached)))
        for tag, net in self._nets():
            for layer in net.layers:
                rng_key = f"rng/{tag}/{layer.name}"
                if rng_key in arrays:
                    layer.rng.bit_generator.state = json.loads(str(arrays[rng_key]))
                extra = {}
                for base, decode in ((f"layer/{tag}/{layer.name}/", lambda v: v),
                                     (f"layer_json/{tag}/{layer.name}/",
                                      lambda v: json.loads(str(v)))):
                    extra.update({k[len(base):]: decode(v) for k, v in arrays.items()
                                  if k.startswith(base)})
                if extra and hasattr(layer, "set_state"):
                    extra["rng"] = layer.rng.bit_generator.state
                    layer.set_state(extra)
        self.iter = int(arrays["iter"])
        self.losses.clear()
        self.losses.extend(float(x) for x in arrays["smoothed_losses"])
        self.smoothed_loss = (math.fsum(self.losses) / len(self.losses) if self.losses
                              else float("nan"))


def _host_arrays(blob):
    return blob.flat_data, blob.flat_diff


def _device_arrays(blob):
    return blob.mutable_gpu_data.reshape(-1), blob.gpu_diff.reshape(-1)


def _noop_record(solver, record):
    pass


def _noop(solver):
    pass


def _no_arrays(solver):
    return {}
