"""Plug-in layers and configs shared by the solver tests (no tests here).

Layers are loaded by module path (`type: tests.test_solver_plugins:Slices`), so that a
`layerflow train` subprocess finds them too.
"""
import os
import signal
import sys
from dataclasses import dataclass

import numpy as np

from layerflow.layer import Layer


class Slices(Layer):
    """Deterministic batches: consecutive slices of a fixed random (total, dim) array and a
    (total, out) target, so that iter_size k x batch b sees exactly the rows of 1 x batch k*b."""

    @dataclass
    class Params:
        batch_size: int = 8
        total: int = 256
        dim: int = 6
        out: int = 3
        seed: int = 0

    num_bottom = 0
    num_top = 2

    def setup(self, bottom, top):
        rng = np.random.default_rng(self.p.seed)
        self.x = rng.standard_normal((self.p.total, self.p.dim)).astype(self.dtype)
        self.y = rng.standard_normal((self.p.total, self.p.out)).astype(self.dtype)
        self.pos = 0

    def reshape(self, bottom, top):
        top[0].reshape((self.p.batch_size, self.p.dim))
        top[1].reshape((self.p.batch_size, self.p.out))

    def forward(self, bottom, top):
        b, n = self.p.batch_size, self.p.total
        idx = (self.pos + np.arange(b)) % n
        top[0].data[...] = self.x[idx]
        top[1].data[...] = self.y[idx]
        self.pos = (self.pos + b) % n

    def backward(self, top, propagate_down, bottom):
        pass

    def state(self):
        return {"pos": self.pos}

    def set_state(self, state):
        self.pos = int(state["pos"])


class NaNAt(Layer):
    """y = x, except that its `at`-th forward call (0-based) writes NaN into y[0]."""

    @dataclass
    class Params:
        at: int = 3
        value: float = float("nan")
        in_backward: bool = False     # poison the bottom gradient instead of the output

    in_place = True

    def setup(self, bottom, top):
        self.calls = 0

    def reshape(self, bottom, top):
        top[0].reshape(bottom[0].shape)

    def forward(self, bottom, top):
        if top[0] is not bottom[0]:
            top[0].data[...] = bottom[0].data
        self.hit = self.calls == self.p.at
        if self.hit and not self.p.in_backward:
            top[0].data.reshape(-1)[0] = self.p.value
        self.calls += 1

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            if top[0] is not bottom[0]:
                bottom[0].diff[...] = top[0].diff
            if self.hit and self.p.in_backward:
                bottom[0].diff.reshape(-1)[0] = self.p.value


class SignalAt(Layer):
    """y = x; its `at`-th forward call sends signal `signal` to this process."""

    @dataclass
    class Params:
        at: int = 3
        signal: str = "SIGHUP"
        repeat: int = 1

    in_place = True

    def setup(self, bottom, top):
        self.calls = 0

    def reshape(self, bottom, top):
        top[0].reshape(bottom[0].shape)

    def forward(self, bottom, top):
        if top[0] is not bottom[0]:
            top[0].data[...] = bottom[0].data
        if self.calls == self.p.at:
            for _ in range(self.p.repeat):
                os.kill(os.getpid(), getattr(signal, self.p.signal))
        self.calls += 1

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0] and top[0] is not bottom[0]:
            bottom[0].diff[...] = top[0].diff


# -- a slow fsync, so that a test can kill a `layerflow train` while a snapshot is written ---
if os.environ.get("LAYERFLOW_TEST_SLOW_FSYNC"):
    _fsync = os.fsync

    def _slow_fsync(fd):
        try:
            name = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            name = ""
        if name.endswith(".tmp"):
            sys.stdout.write(f"FSYNC {name}\n")
            sys.stdout.flush()
            import time
            time.sleep(float(os.environ["LAYERFLOW_TEST_SLOW_FSYNC"]))
        _fsync(fd)

    os.fsync = _slow_fsync


PLUGIN = "tests.test_solver_plugins"


def mlp_layers(batch=16, dim=8, hidden=16, out=4, dropout=0.3, refill=True):
    """DummyData (fresh gaussian batches from its generator) -> IP -> ReLU -> Dropout -> IP
    -> EuclideanLoss: every source of randomness a resume has to restore."""
    layers = [
        {"name": "data", "type": "DummyData", "top": ["data", "target"],
         "shape": [[batch, dim], [batch, out]], "refill": refill,
         "data_filler": [{"type": "gaussian", "std": 1.0}]},
        {"name": "ip1", "type": "InnerProduct", "bottom": "data", "top": "ip1",
         "num_output": hidden, "weight_filler": {"type": "gaussian", "std": 0.3},
         "bias_filler": {"type": "constant", "value": 0.1},
         "param": [{"lr_mult": 1}, {"lr_mult": 2, "decay_mult": 0}]},
        {"name": "relu1", "type": "ReLU", "bottom": "ip1", "top": "ip1"},
    ]
    if dropout:
        layers.append({"name": "drop1", "type": "Dropout", "bottom": "ip1", "top": "ip1",
                       "dropout_ratio": dropout})
    layers += [
        {"name": "ip2", "type": "InnerProduct", "bottom": "ip1", "top": "ip2",
         "num_output": out, "weight_filler": {"type": "gaussian", "std": 0.3}},
        {"name": "loss", "type": "EuclideanLoss", "bottom": ["ip2", "target"], "top": "loss"},
    ]
    return layers


def config(prefix, layers=None, **solver):
    """A solver + net config as a dict; `solver` overrides the defaults."""
    s = {"type": "SGD", "base_lr": 0.05, "momentum": 0.9, "weight_decay": 1e-3,
         "max_iter": 20, "display": 1, "snapshot_prefix": str(prefix), "random_seed": 7}
    s.update(solver)
    return {"name": "small", "solver": s, "net": {"layers": layers or mlp_layers()}}
