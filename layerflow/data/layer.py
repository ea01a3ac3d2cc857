"""DataLayer: the base of every file-backed data layer (MNISTData, CIFAR10Data, NPZData,
HDF5Data, ImageFolderData, LMDBData, MemoryData).

A subclass declares its own Params (subclassing `DataParams`) and `open_source()`; the base
does the rest: shapes, transform, shuffling, sharding, prefetch and the cursor protocol the
Solver uses for exact resume (`state()` / `set_state()`; the Solver saves `self.rng` itself).
"""
from dataclasses import dataclass, field
import numpy as np

from ..config.schema import bounded
from ..layer import Layer
from .device_feed import DeviceFeed
from .pipeline import BatchProducer, Cursor, Prefetcher
from .transforms import Transform, TransformSpec, TransformStep


@dataclass
class DataParams:
    """Keys every data layer takes."""
    batch_size: int = bounded(64, lo=1, hi=1 << 20)   # hi: a sanity bound, not a memory one
    transform: TransformSpec | list[TransformStep] = field(default_factory=TransformSpec)
    shuffle: bool | None = None        # default: shuffle every epoch in TRAIN, in order in TEST
    prefetch: int = bounded(3, lo=0, hi=64)  # batches prepared ahead in a thread; 0: in forward
    num_classes: int = bounded(0, lo=0)  # > 0: labels must be class ids in [0, num_classes)


class DataLayer(Layer):
    Params = DataParams
    num_bottom = 0
    num_top = (1, 2)
    default_num_classes = 0

    def open_source(self):
        """The layer's Source (sources.py); called once in setup."""
        raise NotImplementedError

    def setup(self, bottom, top):
        self.source = self.open_source()
        if len(top) > len(self.source.shapes):
            raise self.shape_error(f"{len(top)} tops, the source gives "
                                   f"{len(self.source.shapes)} arrays per record")
        train = self.phase == "TRAIN"
        transform = Transform(self.p.transform, train, self.source.shapes[0], self.p.batch_size,
                              self.dtype)
        shuffle = self.p.shuffle if self.p.shuffle is not None else train
        num_classes = self.p.num_classes or self.default_num_classes
        self.producer = BatchProducer(self.source, transform if transform else None,
                                      self.p.batch_size, shuffle, self.dtype, len(top),
                                      num_classes)
        self._prefetcher = None
        self._feed = None              # CUDA mode: device_feed.DeviceFeed
        self.start_rng_state = self.rng.bit_generator.state   # set_shard restarts from it
        self.cursor = self.producer.first_cursor(self.rng)
        skip = getattr(self.p, "rand_skip", 0)
        if skip:                       # Caffe's rand_skip: begin at a random record
            epoch, _, order = self.cursor
            self.cursor = type(self.cursor)(epoch, int(self.rng.integers(skip)) % len(order),
                                            order)

    def reshape(self, bottom, top):
        for t, shape in zip(top, self.producer.out_shapes):
            t.reshape(shape)

    def forward_cpu(self, bottom, top):
        if self.p.prefetch == 0:
            self.cursor = self.producer.produce(self.rng, self.cursor, [t.data for t in top])
            return
        if self._prefetcher is None:
            self._prefetcher = Prefetcher(self.producer, self.p.prefetch, self.rng, self.cursor)
        slot = self._prefetcher.get()
        for t, a in zip(top, slot.arrays):
            np.copyto(t.data, a)
        self.rng.bit_generator.state = slot.rng_state
        self.cursor = slot.cursor
        self._prefetcher.release(slot)

    def forward_gpu(self, bottom, top):
        """CUDA mode: the batch comes from pinned memory, uploaded one iteration ahead on a
        stream of its own (device_feed.py); with prefetch 0 the batch is made in forward and
        goes up when the next layer reads it."""
        if self.p.prefetch == 0:
            self.forward_cpu(bottom, top)
            return
        if self._feed is None:
            self.stop_prefetch()
            self._prefetcher = Prefetcher(self.producer, self.p.prefetch, self.rng, self.cursor,
                                          alloc=self.device.pinned)
            self._feed = DeviceFeed(self.device, self._prefetcher, self.producer.out_shapes,
                                    self.dtype)
        rng_state, self.cursor = self._feed.take(top)
        self.rng.bit_generator.state = rng_state

    # -- sharding and the cursor ------------------------------------------------------------
    def set_shard(self, rank, world_size):
        """Read only this rank's share of every epoch (for data-parallel training): all ranks
        draw the same permutation from the shared seed and take every world_size-th record
        from `rank` on. Restarts the stream at epoch 0 from the generator's state before the
        first epoch, so that the ranks' slices are those of a single process's batches."""
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside 0..{world_size - 1}")
        self.stop_prefetch()
        self.producer.rank, self.producer.world_size = int(rank), int(world_size)
        self.producer.shard_size()
        self.rng.bit_generator.state = self.start_rng_state
        self.cursor = self.producer.first_cursor(self.rng)

    def state(self):
        """The cursor of the next batch: epoch, position in the epoch, this epoch's order."""
        epoch, pos, order = self.cursor
        return {"epoch": epoch, "cursor": pos, "order": order.copy(),
                "rank": self.producer.rank, "world_size": self.producer.world_size}

    def set_state(self, state):
        """Continue from `state()` (the Solver restores `self.rng` before calling this)."""
        self.stop_prefetch()
        if "rng" in state:
            self.rng.bit_generator.state = state["rng"]
        if "world_size" in state:
            self.producer.rank = int(state["rank"])
            self.producer.world_size = int(state["world_size"])
        order = np.ascontiguousarray(state["order"], np.int64)
        pos = int(state["cursor"])
        if order.ndim != 1 or not 0 <= pos < max(len(order), 1) or \
                (len(order) and order.max() >= len(self.source)):
            raise ValueError(f"layer '{self.name}': the saved data cursor does not fit this "
                             f"source ({len(self.source)} records)")
        self.cursor = Cursor(int(state["epoch"]), pos, order)

    def stop_prefetch(self):
        """Stop the prefetch thread and drop what it prepared (it restarts on forward)."""
        if getattr(self, "_feed", None) is not None:
            self._feed.close()
            self._feed = None
        if getattr(self, "_prefetcher", None) is not None:
            self._prefetcher.close()
            self._prefetcher = None

    close = stop_prefetch

    def __del__(self):
        try:
            self.stop_prefetch()
        except Exception:
            pass

