"""Gradient averaging over flat buckets, overlapped with backward (as PyTorch DDP and
Caffe's multi-GPU P2PSync do).

The learnable params are grouped, in the order backward finishes them (the last layer's
first), into buckets of about `bucket_bytes`; the params of the layer whose backward runs
last get a bucket of their own, as nothing is left to hide its allreduce behind. A bucket's diffs are final once the lowest
layer that uses any of its params has run backward; the net's `after_backward(net, i)` hook
then copies them into the bucket's flat buffer and starts a non-blocking
`Iallreduce(SUM)` on it, while backward goes on with the layers below. Each later hook call
also tests the open requests, which lets MPI progress them (MPICH and Open MPI progress a
non-blocking collective only inside MPI calls, unless an asynchronous progress thread is
configured). The solver's `on_gradients_ready` waits for every bucket and writes
sum / world_size back into the diffs, before the update. With `iter_size > 1` the buckets
start during the last pass; a bucket that was not started (debug_info runs its own loop)
starts there.

Times kept (summed over `iterations`): `comm_s` (inside MPI calls), `exposed_s` (waiting in
on_gradients_ready: the communication not hidden behind backward, plus, unless
`measure_skew` is set, the wait for the slowest rank to finish its backward), `skew_s` (with
`measure_skew`: that wait alone, measured with a barrier; benchmarks only).
"""
import time

import numpy as np


class Bucket:
    def __init__(self, blobs, dtype, ready_at):
        self.blobs = blobs
        self.ready_at = ready_at           # the layer whose backward finishes the bucket
        self.size = sum(b.count for b in blobs)
        self.flat = np.zeros(self.size, dtype)
        self.request = None

    def pack(self):
        off = 0
        for b in self.blobs:
            self.flat[off:off + b.count] = b.diff.reshape(-1)
            off += b.count

    def unpack(self, scale):
        off = 0
        for b in self.blobs:
            np.multiply(self.flat[off:off + b.count], scale, out=b.diff.reshape(-1))
            off += b.count


class GradientAverager:
    """Average the learnable params' diffs of `net` over the ranks of `world`; attach with
    `net.add_hook(averager)` and `solver.add_callback(averager)`."""

    def __init__(self, world, net, params, iter_size=1, bucket_bytes=1 << 20):
        self.world, self.net, self.iter_size = world, net, iter_size
        self.buckets = _make_buckets(net, params, bucket_bytes)
        self.lowest = min((i for i, need in enumerate(net.layer_need_backward) if need),
                          default=-1)
        self.by_layer = {}
        for b in self.buckets:
            self.by_layer.setdefault(b.ready_at, []).append(b)
        self.scale = 1.0 / world.size
        self._open = []
        self._pass = 0
        self.iterations = 0
        self.comm_s = 0.0          # seconds inside MPI calls (start, test, wait), summed
        self.exposed_s = 0.0       # seconds waiting after backward, summed
        self.pack_s = 0.0
        self.skew_s = 0.0          # with measure_skew: seconds waiting for the slowest rank
        self.measure_skew = False  # a barrier before the wait (benchmarks only)

    @property
    def count(self):
        return sum(b.size for b in self.buckets)

    def reset_times(self):
        self.iterations, self.comm_s, self.exposed_s, self.pack_s = 0, 0.0, 0.0, 0.0
        self.skew_s = 0.0

    # -- solver callback and net hook ------------------------------------------------------
    def on_start(self, solver):
        self._pass = 0
        for b in self.buckets:
            b.request = None
        self._open = []

    def after_backward(self, net, i):
        if net is not self.net:
            return
        if self._open:
            t = time.perf_counter()
            self.world.MPI.Request.Testall(self._open)
            self.comm_s += time.perf_counter() - t
        if self._pass == self.iter_size - 1:
            for b in self.by_layer.get(i, ()):
                self._start(b)
        if i == self.lowest:
            self._pass += 1

    def on_gradients_ready(self, solver):
        self.finish()

    def finish(self):
        """Start what has not started, wait for all, write the averages into the diffs."""
        for b in self.buckets:
            if b.request is None:
                self._start(b)
        if self.measure_skew:
            # Every rank done with backward: what remains of the wait is communication only.
            t = time.perf_counter()
            self.world.wait_all([self.world.comm.Ibarrier()])
            self.skew_s += time.perf_counter() - t
        t = time.perf_counter()
        self.world.wait_all([b.request for b in self.buckets])
        dt = time.perf_counter() - t
        self.comm_s += dt
        self.exposed_s += dt
        t = time.perf_counter()
        for b in self.buckets:
            b.unpack(self.scale)
            b.request = None
        self._open = []
        self.pack_s += time.perf_counter() - t
        self.iterations += 1

    def _start(self, bucket):
        t = time.perf_counter()
        bucket.pack()
        t1 = time.perf_counter()
        bucket.request = self.world.comm.Iallreduce(self.world.MPI.IN_PLACE, bucket.flat,
                                                    op=self.world.MPI.SUM)
        self._open.append(bucket.request)
        t2 = time.perf_counter()
        self.pack_s += t1 - t
        self.comm_s += t2 - t1

    # -- measurement -----------------------------------------------------------------------
    def time_blocking(self, repeats=20):
        """Median seconds of one blocking Allreduce of all buckets (no compute to hide
        behind): what the overlap saves. Collective: every rank must call it."""
        times = []
        for _ in range(repeats):
            self.world.comm.Barrier()
            t = time.perf_counter()
            for b in self.buckets:
                self.world.comm.Allreduce(self.world.MPI.IN_PLACE, b.flat, op=self.world.MPI.SUM)
            times.append(time.perf_counter() - t)
        return float(np.median(times))


def _make_buckets(net, params, bucket_bytes):
    """Buckets of the params with a non-zero lr that some backward layer writes, in the
    order backward finishes them."""
    users = {}
    for li, layer in enumerate(net.layers):
        if net.layer_need_backward[li]:
            for blob in layer.blobs:
                users.setdefault(id(blob), []).append(li)
    ready = []
    for p in params:
        if p.lr_mult != 0 and id(p.blob) in users:
            ready.append((min(users[id(p.blob)]), p.blob))
    ready.sort(key=lambda r: -r[0])          # stable: a layer's blobs keep their order
    last = ready[-1][0] if ready else None
    buckets, group, nbytes = [], [], 0
    for at, blob in ready:
        if at == last and group and group[-1][0] != last:
            # The last layer's params get a bucket of their own: no backward runs after
            # theirs, so anything bundled with them could not overlap anything.
            buckets.append(group)
            group, nbytes = [], 0
        group.append((at, blob))
        nbytes += blob.diff.nbytes
        if nbytes >= bucket_bytes:
            buckets.append(group)
            group, nbytes = [], 0
    if group:
        buckets.append(group)
    return [Bucket([blob for _, blob in g], net.dtype, min(at for at, _ in g))
            for g in buckets]
