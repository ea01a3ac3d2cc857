"""MNISTData: batches of MNIST digits as `data` (N, 1, 28, 28) and `label` (N,) tops.

Reads the IDX files under `$LAYERFLOW_DATA/mnist` (or `source`). In TRAIN it reshuffles
every epoch from the layer's seeded generator, so runs repeat; in TEST it walks the split in
order, so `test_iter` x `batch_size` = 10,000 covers the test set exactly once.
Transform: `(x - mean_value) * scale`, as Caffe's transform_param.

    - {name: mnist, type: MNISTData, top: [data, label], split: train, batch_size: 64,
       transform: {scale: 0.00390625}}
"""
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..config.schema import bounded
from ..data.mnist import load_mnist
from ..kernels.cpu.data import gather_scale
from ..layer import Layer
from ..registry import register_layer


@dataclass
class TransformSpec:
    """Caffe's transform_param: y = (x - mean_value) * scale."""
    scale: float = 1.0
    mean_value: float = 0.0


@register_layer("MNISTData")
class MNISTData(Layer):
    @dataclass
    class Params:
        split: Literal["train", "test"] = "train"
        batch_size: int = bounded(64, lo=1)
        transform: TransformSpec = field(default_factory=TransformSpec)
        shuffle: bool | None = None          # default: shuffle in TRAIN, in order in TEST
        source: str | None = None            # folder with the IDX files (default: data root)

    num_bottom = 0
    num_top = (1, 2)

    def setup(self, bottom, top):
        self.images, self.labels = load_mnist(self.p.split, self.p.source)
        self.side = int(round(np.sqrt(self.images.shape[1])))
        self.shuffle = self.p.shuffle if self.p.shuffle is not None else self.phase == "TRAIN"
        self.order = np.arange(len(self.images), dtype=np.int64)
        self.cursor, self.epoch = 0, 0
        if self.shuffle:
            self.rng.shuffle(self.order)
        self._labels = np.zeros(self.p.batch_size, self.dtype)

    def reshape(self, bottom, top):
        top[0].reshape((self.p.batch_size, 1, self.side, self.side))
        if len(top) > 1:
            top[1].reshape((self.p.batch_size,))

    def forward_cpu(self, bottom, top):
        b = self.p.batch_size
        t = self.p.transform
        out = top[0].data.reshape(b, -1)
        labels = top[1].data if len(top) > 1 else self._labels
        gather_scale(self.images, self.labels, self.order, self.cursor, t.scale,
                     t.mean_value * t.scale, out, labels)
        self.cursor += b
        if self.cursor >= len(self.order):
            self.cursor -= len(self.order)
            self.epoch += 1
            if self.shuffle:
                self.rng.shuffle(self.order)

    def state(self):
        """The data cursor, for exact resume: position, epoch, order and generator."""
        return {"cursor": self.cursor, "epoch": self.epoch, "order": self.order.copy(),
                "rng": self.rng.bit_generator.state}

    def set_state(self, state):
        self.cursor, self.epoch = int(state["cursor"]), int(state["epoch"])
        self.order[...] = state["order"]
        self.rng.bit_generator.state = state["rng"]
