"""Solver: the training loop shared by every update rule (Caffe's Solver).

Per iteration: clear param diffs; `iter_size` forward+backward passes (diffs accumulate);
then `apply_update`: the rate from the lr policy, the gradient scale (1/iter_size, and
global-norm clipping), and the rule's own update with weight decay folded in. Tests run
every `test_interval` iterations over `test_iter` batches; the smoothed loss is displayed
every `display`; snapshots go out every `snapshot` iterations and at the end.
"""
import json
import logging
import math
import sys
import time
from collections import deque
from pathlib import Path

import numpy as np

from ..config import Where, from_mapping, load_config, solver_section
from ..io.weights import WeightsFileError, load_npz, save_npz_atomic
from ..net import Net
from .lr_policy import learning_rate
from .params import SolverParams

log = logging.getLogger("layerflow")
_SOLVERS = {}


def register_solver(name):
    def wrap(cls):
        _SOLVERS[name] = cls
        cls.type_name = name
        return cls
    return wrap


class Solver:
    """`Solver(config_or_path)` builds the train and test nets and picks the update rule
    from `solver: {type: ...}`; `step(n)` trains n iterations, `solve(resume=None)` runs to
    `max_iter`."""

    type_name = "Solver"
    history_per_param = 1          # history blobs per learnable param (Adam: 2)

    def __new__(cls, config_or_path=None, **overrides):
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

    def __init__(self, config_or_path, max_iter=None, mode=None, weights=None, quiet=False):
        root, file = load_config(config_or_path)
        self.config_file = file
        section = solver_section(root, file)
        self.p = from_mapping(SolverParams, section, Where(file).at(root, "solver"))
        if max_iter is not None:
            self.p.max_iter = max_iter
        if mode is not None:
            self.p.mode = mode
        seed = self.p.random_seed if self.p.random_seed >= 0 else None
        self.net = Net(root, "train", mode=self.p.mode, seed=seed)
        self.test_net = None
        if self.p.test_interval or self.p.test_iter:
            self.test_net = Net(root, "test", mode=self.p.mode,
                                seed=None if seed is None else seed + 1)
            self.test_net.share_params_from(self.net)
        if weights is not None:
            self.net.copy_from(weights)
        self.params = self.net.learnable_params()
        self.history = [[np.zeros_like(b.data) for _ in range(self.history_per_param)]
                        for b, *_ in self.params]
        self.iter = 0
        self.losses = deque(maxlen=self.p.average_loss)
        self.smoothed_loss = float("nan")
        self.quiet = quiet
        self.metrics_path = Path(self.p.snapshot_prefix + "_metrics.jsonl")
        self.stop_requested = False

    # -- the loop --------------------------------------------------------------------------
    def solve(self, resume=None):
        """Train from iteration 0 (or a snapshot's) to max_iter; snapshot and test at the end."""
        if resume is not None:
            self.restore(resume)
        log.info("Solving %s (%s), %d iterations", self.net.name, self.type_name,
                 self.p.max_iter)
        self.step(self.p.max_iter - self.iter)
        if self.p.snapshot_after_train and (not self.p.snapshot or
                                            self.iter % self.p.snapshot != 0):
            self.snapshot()
        if self.p.display and self.iter % self.p.display == 0:
            log.info("Iteration %d, loss = %.6g", self.iter, self.smoothed_loss)
        if self.test_net is not None and self.p.test_interval and \
                self.iter % self.p.test_interval == 0:
            self.test()
        log.info("Optimization Done.")
        return self

    def step(self, n):
        """Run n training iterations."""
        stop = self.iter + n
        bar = _Progress(stop, self.iter) if sys.stderr.isatty() and not self.quiet else None
        tic, tic_iter = time.perf_counter(), self.iter
        while self.iter < stop and not self.stop_requested:
            if self._test_due():
                self.test()
            self.net.clear_param_diffs()
            loss = 0.0
            for _ in range(self.p.iter_size):
                loss += self.net.forward_backward()
            loss /= self.p.iter_size
            self._smooth(loss)
            rate = self.apply_update()
            if self.p.display and self.iter % self.p.display == 0:
                toc = time.perf_counter()
                self._display(rate, (self.iter - tic_iter + 1) / max(toc - tic, 1e-9))
                tic, tic_iter = toc, self.iter + 1
            self.iter += 1
            if bar is not None:
                bar.update(self.iter, self.smoothed_loss)
            if self.p.snapshot and self.iter % self.p.snapshot == 0:
                self.snapshot()
        if bar is not None:
            bar.close()
        return self.smoothed_loss

    def _test_due(self):
        return (self.test_net is not None and self.p.test_interval and
                self.iter % self.p.test_interval == 0 and
                (self.iter > 0 or self.p.test_initialization))

    def _smooth(self, loss):
        if not math.isfinite(loss):
            raise FloatingPointError(f"iteration {self.iter}: loss is {loss}")
        self.losses.append(loss)
        self.smoothed_loss = float(np.mean(self.losses))

    def _display(self, rate, speed):
        log.info("Iteration %d (%.1f iter/s), loss = %.6g", self.iter, speed, self.smoothed_loss)
        for name, blob in self.net.output_blobs().items():
            log.info("    Train net output: %s = %.6g", name, float(blob.data.mean()))
        log.info("Iteration %d, lr = %.6g", self.iter, rate)
        self._metric({"iter": self.iter, "phase": "train", "loss": self.smoothed_loss,
                      "lr": rate, "iter_per_s": speed})

    # -- update ----------------------------------------------------------------------------
    def apply_update(self):
        """Scale (1/iter_size, clipping), regularize and update every param; returns the rate."""
        rate = learning_rate(self.p, self.iter)
        scale = 1.0 / self.p.iter_size
        if self.p.clip_gradients > 0:
            norm = scale * math.sqrt(sum(float(np.vdot(b.diff, b.diff))
                                         for b, *_ in self.params))
            if norm > self.p.clip_gradients:
                log.info("Gradient clipping: scaling down gradients (L2 norm %.6g > %.6g)",
                         norm, self.p.clip_gradients)
                scale *= self.p.clip_gradients / norm
        l1 = self.p.regularization_type == "L1"
        for (blob, lr_mult, decay_mult, _), hist in zip(self.params, self.history):
            if lr_mult == 0:
                continue
            self.update_param(blob.data.reshape(-1), blob.diff.reshape(-1),
                              [h.reshape(-1) for h in hist], rate * lr_mult, scale,
                              self.p.weight_decay * decay_mult, l1)
        return rate

    def update_param(self, w, g, history, lr, grad_scale, decay, l1):
        """Apply this rule's update to flat weights `w` given gradient `g` (each rule)."""
        raise NotImplementedError

    # -- testing ---------------------------------------------------------------------------
    def test(self):
        """Average each test-net output over test_iter batches; log and record them."""
        log.info("Iteration %d, Testing net", self.iter)
        sums = {}
        for _ in range(self.p.test_iter):
            self.test_net.forward()
            for name, blob in self.test_net.output_blobs().items():
                sums[name] = sums.get(name, 0.0) + float(blob.data.mean())
        record = {"iter": self.iter, "phase": "test"}
        for name, total in sums.items():
            record[name] = total / max(self.p.test_iter, 1)
            log.info("    Test net output: %s = %.6g", name, record[name])
        self._metric(record)
        self.last_test = record
        return record

    def _metric(self, record):
        self.metrics_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    # -- snapshots -------------------------------------------------------------------------
    def snapshot_paths(self, it=None):
        stem = f"{self.p.snapshot_prefix}_iter_{self.iter if it is None else it}"
        return Path(stem + ".weights.npz"), Path(stem + ".state.npz")

    def snapshot(self):
        """Write weights and the full solver state (atomically), named by iteration."""
        weights, state = self.snapshot_paths()
        self.net.save(weights)
        save_npz_atomic(state, self.state_arrays())
        log.info("Snapshotting to %s and %s", weights, state)
        return weights, state

    def state_arrays(self):
        arrays = {"iter": np.array(self.iter), "solver_type": np.array(self.type_name),
                  "smoothed_losses": np.array(list(self.losses), np.float64),
                  "signature": np.array(self._signature())}
        for (blob, *_, key), hist in zip(self.params, self.history):
            arrays[f"weights/{key}"] = blob.data
            for j, h in enumerate(hist):
                arrays[f"history/{key}/{j}"] = h
        for tag, net in (("train", self.net), ("test", self.test_net)):
            for layer in (net.layers if net is not None else []):
                arrays[f"rng/{tag}/{layer.name}"] = np.array(
                    json.dumps(layer.rng.bit_generator.state))
                for k, v in (layer.state().items() if hasattr(layer, "state") else ()):
                    if k != "rng":
                        arrays[f"layer/{tag}/{layer.name}/{k}"] = np.asarray(v)
        return arrays

    def _signature(self):
        return ";".join(f"{key}:{'x'.join(map(str, b.shape))}" for b, *_, key in self.params)

    def restore(self, path):
        """Continue from a state file written by `snapshot`, exactly where it stopped."""
        arrays = load_npz(path)
        if "solver_type" not in arrays or "iter" not in arrays:
            raise WeightsFileError(f"{path}: not a layerflow solver state file")
        kind = str(arrays["solver_type"])
        if kind != self.type_name:
            raise WeightsFileError(f"{path}: written by the {kind} solver; this config uses "
                                   f"{self.type_name} (its history would not apply)")
        if str(arrays["signature"]) != self._signature():
            raise WeightsFileError(f"{path}: written for a different net (its params differ "
                                   "from this config's)")
        for (blob, *_, key), hist in zip(self.params, self.history):
            blob.data[...] = arrays[f"weights/{key}"]
            for j, h in enumerate(hist):
                h[...] = arrays[f"history/{key}/{j}"]
        for tag, net in (("train", self.net), ("test", self.test_net)):
            for layer in (net.layers if net is not None else []):
                rng_key = f"rng/{tag}/{layer.name}"
                if rng_key in arrays:
                    layer.rng.bit_generator.state = json.loads(str(arrays[rng_key]))
                prefix = f"layer/{tag}/{layer.name}/"
                extra = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
                if extra and hasattr(layer, "set_state"):
                    extra["rng"] = layer.rng.bit_generator.state
                    layer.set_state(extra)
        self.iter = int(arrays["iter"])
        self.losses.clear()
        self.losses.extend(float(x) for x in arrays["smoothed_losses"])
        self.smoothed_loss = float(np.mean(self.losses)) if self.losses else float("nan")
        log.info("Resumed from %s at iteration %d", path, self.iter)


class _Progress:
    """A one-line progress bar on a terminal (stderr), redrawn a few times a second."""

    def __init__(self, total, start):
        self.total, self.start, self.t0, self.last = total, start, time.perf_counter(), 0.0

    def update(self, it, loss):
        now = time.perf_counter()
        if now - self.last < 0.2 and it < self.total:
            return
        self.last = now
        frac = it / max(self.total, 1)
        done = int(30 * frac)
        rate = (it - self.start) / max(now - self.t0, 1e-9)
        eta = (self.total - it) / max(rate, 1e-9)
        sys.stderr.write(f"\r[{'#' * done}{'.' * (30 - done)}] {it}/{self.total} "
                         f"loss {loss:.4g} {rate:.0f} it/s eta {eta:.0f}s ")
        sys.stderr.flush()

    def close(self):
        sys.stderr.write("\n")
        sys.stderr.flush()
