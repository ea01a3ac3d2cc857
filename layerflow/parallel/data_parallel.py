"""`attach(solver, world)`: turn one rank's Solver into a member of a data-parallel job.

What each rank does (Caffe's multi-GPU training, over MPI):
- start-up: every rank builds the same net from the same config; a hash of the config,
  the solver's settings, the parameter shapes and the dtype is compared on all ranks, and
  a rank that differs stops the job naming it;
- data: every data layer with `set_shard` reads this rank's slice of each epoch (all ranks
  draw the same permutation and take every K-th record from their rank on), so that K ranks
  with batch B see together the records one process with batch K*B would;
- first iteration (after --weights or --resume are loaded): the weights and the solver's
  history are broadcast from rank 0, so that every rank starts from the same state;
- every iteration: gradients averaged in buckets during backward (allreduce.py); a signal
  (SIGINT/SIGTERM/SIGHUP) that reached any rank is acted on by all at the same iteration
  (one small MAX-allreduce), so that all ranks snapshot and stop together;
- rank 0 alone tests, writes the metrics file and the snapshots; a snapshot records the
  world size and every rank's data cursor, so that `--resume` with the same number of ranks
  continues exactly, and a different number is refused.

The Solver skips testing, metrics and files on ranks other than 0 itself (`solver.rank`);
this class is a solver callback (Solver.add_callback) and a net hook (the averager).
"""
import json
import logging
from dataclasses import asdict

import numpy as np

from ..config import load_config
from .allreduce import GradientAverager

log = logging.getLogger("layerflow")

_SIGNAL_CODES = {None: 0, "snapshot": 1, "stop": 2}
_SIGNAL_NAMES = {v: k for k, v in _SIGNAL_CODES.items()}


def describe(solver):
    """The text whose hash must agree on every rank."""
    try:
        root, _ = load_config(solver.config_file) if solver.config_file else ({}, None)
        config = json.dumps(root, sort_keys=True, default=str)
    except Exception:               # the solver was built from a mapping: its settings do
        config = ""
    params = ";".join(f"{'x'.join(map(str, p.blob.shape))}"
                      for p in solver.net.learnable_params())
    return (f"solver {solver.type_name} {asdict(solver.p)}; dtype {solver.net.dtype}; "
            f"params {params}; config {config}")


class DataParallel:
    """The per-rank glue; made and installed by `attach`."""

    def __init__(self, solver, world, bucket_bytes=1 << 20):
        self.solver, self.world = solver, world
        world.check_consistent(describe(solver))
        self.sharded = [l for l in solver.net.layers if hasattr(l, "set_shard")]
        self._shard_data()
        self.averager = GradientAverager(world, solver.net, solver.net.learnable_params(),
                                         solver.p.iter_size, bucket_bytes)
        self._synced = False
        self._agreed = None
        self._orders = {}
        solver.world_size, solver.rank = world.size, world.rank
        solver.net.add_hook(self.averager)
        solver.add_callback(self)
        batch = sum(getattr(l.p, "batch_size", 0) for l in self.sharded)
        passes = solver.p.iter_size
        unsharded = [l.name for l in solver.net.layers
                     if l.type_name.endswith("Data") and l not in self.sharded]
        log.info("Data-parallel over MPI: %d ranks, batch %s per rank%s, global batch %s; "
                 "gradients in %d buckets (%d values)", world.size, batch or "?",
                 f" x iter_size {passes}" if passes > 1 else "",
                 batch * passes * world.size or "?", len(self.averager.buckets),
                 self.averager.count)
        if unsharded:
            log.warning("Data layer(s) %s cannot be sharded: every rank reads the same "
                        "records", ", ".join(unsharded))

    def _shard_data(self):
        for layer in self.sharded:
            # A seed drawn from entropy differs per rank: all take rank 0's generator.
            state = getattr(layer, "start_rng_state", None)
            if state is not None:
                layer.start_rng_state = self.world.bcast_json(state)
            layer.set_shard(self.world.rank, self.world.size)

    # -- solver callbacks ------------------------------------------------------------------
    def on_start(self, solver):
        if not self._synced:
            self.broadcast_state()
            self._synced = True
        self.averager.on_start(solver)

    def on_gradients_ready(self, solver):
        self.averager.finish()
        self._agree_on_signals(solver)

    def broadcast_state(self):
        """Rank 0's weights and solver history to every rank (all learnable blobs)."""
        for p, hist in zip(self.solver.params, self.solver.history):
            self.world.bcast(p.blob.data)
            for h in hist:
                self.world.bcast(h.data)

    def _agree_on_signals(self, solver):
        sig = getattr(solver, "_signals", None)
        if sig is None:
            return
        if not hasattr(sig, "_mpi_take"):
            sig._mpi_take = sig.take
            sig.take = self._take_agreed
        local = _SIGNAL_CODES.get(sig._mpi_take(), 0)
        self._agreed = _SIGNAL_NAMES[self.world.allreduce_max(local)]
        if self._agreed is not None and sig.received is None:
            sig.received = "a signal on another rank"

    def _take_agreed(self):
        request, self._agreed = self._agreed, None
        return request

    # -- snapshots: rank 0 writes every rank's data cursor ------------------------------
    def on_snapshot(self, solver):
        self._orders = {l.name: self.world.gather_rows(l.cursor.order) for l in self.sharded}

    def state_arrays(self, solver):
        arrays = {"mpi/world_size": np.array(self.world.size)}
        for name, orders in self._orders.items():
            arrays[f"mpi/order/{name}"] = orders
        return arrays

    def on_restore(self, solver, arrays):
        """Each rank continues its own shard's order (the Solver checked the world size)."""
        for layer in self.sharded:
            key = f"mpi/order/{layer.name}"
            if key not in arrays:
                continue
            state = layer.state()
            state.update(order=arrays[key][self.world.rank], rank=self.world.rank,
                         world_size=self.world.size)
            layer.set_state(state)
        self._synced = False


def attach(solver, world, bucket_bytes=1 << 20):
    """Make `solver` one rank of a data-parallel job over `world` (a comm.World)."""
    return DataParallel(solver, world, bucket_bytes)
