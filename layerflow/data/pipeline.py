"""The batch pipeline shared by every data layer: cursor, shuffling, sharding, prefetch.

A `Cursor` (epoch, position, order) names the next batch; `BatchProducer.produce(rng,
cursor, outs)` makes that batch (indices from the order, records from the source, then the
transform, drawing from `rng`) and returns the cursor after it. The same function runs
synchronously (`prefetch: 0`) or in the `Prefetcher` thread, which works on a copy of the
layer's generator and hands back, with every batch, the generator state and cursor that
follow it. The layer adopts those when it takes the batch, so its own `rng` and cursor always
describe the next batch the net will see, whatever the thread has already drawn: snapshots
taken between iterations resume exactly, and a run gives the same batches with or without
prefetch.

Thread rather than process: the per-pixel work is Numba kernels compiled `nogil=True` (and
Pillow/lmdb reads release the GIL too), so a thread runs beside the net's BLAS calls and
kernels without copying batches between processes; docs/data.md has the measurements.
"""
import copy
import queue
import threading
from collections import namedtuple

import numpy as np

from ..kernels.cpu.data import first_bad_label
from . import DataFileError

Cursor = namedtuple("Cursor", "epoch pos order")


class BatchProducer:
    """Makes batches of `batch` records from `source` with `transform` (or None)."""

    def __init__(self, source, transform, batch, shuffle, dtype, num_outputs, num_classes=0):
        self.source, self.transform, self.batch = source, transform, batch
        self.shuffle, self.dtype, self.num_classes = shuffle, np.dtype(dtype), num_classes
        self.rank, self.world_size = 0, 1
        self.index = np.zeros(batch, np.int64)
        shapes = source.shapes[:num_outputs]
        self.raw = [np.zeros((batch,) + tuple(s), self.dtype) for s in shapes]
        self.out_shapes = [(batch,) + (tuple(transform.out_shape) if transform else tuple(s))
                           if j == 0 else (batch,) + tuple(s) for j, s in enumerate(shapes)]

    def shard_size(self):
        n = len(self.source) // self.world_size
        if n < 1:
            raise DataFileError(f"{self.source.path}: {len(self.source)} records cannot be "
                                f"shared among {self.world_size} ranks")
        return n

    def epoch_order(self, rng):
        """This rank's record indices for a new epoch: a permutation of all records drawn from
        `rng` when shuffling (the same on every rank, as all ranks share the seed), dealt
        round-robin to the ranks and cut to equal length."""
        n = len(self.source)
        order = rng.permutation(n) if self.shuffle else np.arange(n, dtype=np.int64)
        if self.world_size > 1:
            order = order[self.rank::self.world_size][:self.shard_size()]
        return np.ascontiguousarray(order, np.int64)

    def first_cursor(self, rng):
        return Cursor(0, 0, self.epoch_order(rng))

    def produce(self, rng, cursor, outs):
        """Fill `outs` with the batch at `cursor`; return the cursor after it."""
        epoch, pos, order = cursor
        for k in range(self.batch):
            self.index[k] = order[pos]
            pos += 1
            if pos == len(order):
                epoch, pos = epoch + 1, 0
                order = self.epoch_order(rng)
        targets = self.raw if self.transform else outs
        self.source.fetch(self.index, targets[:len(outs)])
        if self.transform:
            result = self.transform.apply(rng, self.raw[0])
            np.copyto(outs[0], result)
            for out, raw in zip(outs[1:], self.raw[1:]):
                np.copyto(out, raw)
        if self.num_classes and len(outs) > 1:
            bad = first_bad_label(outs[1].reshape(-1), self.num_classes)
            if bad >= 0:
                per = outs[1][0].size
                i = int(self.index[bad // per])
                raise DataFileError(f"{self.source.where(i)}: label "
                                    f"{outs[1].reshape(-1)[bad]:g} is not a class id in "
                                    f"0..{self.num_classes - 1} (num_classes)")
        return Cursor(epoch, pos, order)


class _Slot:
    __slots__ = ("arrays", "rng_state", "cursor")

    def __init__(self, shapes, dtype, alloc=np.zeros):
        self.arrays = [alloc(s, dtype) for s in shapes]
        self.rng_state = self.cursor = None


class _Failure:
    def __init__(self, exc):
        self.exc = exc


class Prefetcher:
    """A daemon thread filling `depth` batch slots ahead of the consumer.

    It holds the producer, never the layer, so a dropped layer is collected (and its thread
    told to stop) as usual. `alloc(shape, dtype)` makes the slots' arrays (page-locked host
    memory in CUDA mode, so that they go up by DMA, asynchronously)."""

    def __init__(self, producer, depth, rng, cursor, alloc=np.zeros):
        self.producer = producer
        self.free, self.full = queue.Queue(), queue.Queue()
        for _ in range(depth):
            self.free.put(_Slot(producer.out_shapes, producer.dtype, alloc))
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(copy.deepcopy(rng), cursor),
                                       name="layerflow-prefetch", daemon=True)
        self.thread.start()

    def _run(self, rng, cursor):
        while True:
            slot = self.free.get()
            if slot is None or self.stop_event.is_set():
                return
            try:
                cursor = self.producer.produce(rng, cursor, slot.arrays)
            except BaseException as exc:        # handed to the consumer, raised there
                self.full.put(_Failure(exc))
                return
            slot.rng_state, slot.cursor = rng.bit_generator.state, cursor
            self.full.put(slot)

    def get(self):
        """The next batch's slot (blocks until ready); re-raises the thread's error."""
        item = self.full.get()
        if isinstance(item, _Failure):
            self.full.put(item)             # every later get fails the same way
            raise item.exc
        return item

    def release(self, slot):
        self.free.put(slot)

    def close(self):
        self.stop_event.set()
        self.free.put(None)
        self.thread.join(timeout=10)
