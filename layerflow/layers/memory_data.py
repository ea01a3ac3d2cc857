"""MemoryData: batches from arrays set from Python, as Caffe's MemoryData layer.

The tops are `data` (batch_size, channels, height, width) and `label` (batch_size,);
`net.layers[i].set_arrays(data, labels)` hands over (N, C, H, W) data and (N,) labels (any
number N >= 1 of records; the arrays are copied) and restarts at their first record. The
transform, shuffling, prefetch and cursor work as in every data layer. No gradient.

    - {name: data, type: MemoryData, top: [data, label], batch_size: 32, channels: 1,
       height: 28, width: 28}
"""
from dataclasses import dataclass

import numpy as np

from ..config.schema import bounded
from ..data import DataFileError
from ..data.layer import DataLayer, DataParams
from ..data.sources import ArraySource
from ..registry import register_layer


class _Unset(ArraySource):
    """Stands in until `set_arrays` is called: the declared shapes, no records."""

    def __init__(self, shape):
        super().__init__([np.zeros((1,) + shape, np.float32), np.zeros(1, np.float32)],
                         "<MemoryData: no arrays set>")

    def fetch(self, index, outs):
        raise DataFileError("MemoryData: call set_arrays(data, labels) before forward")


@register_layer("MemoryData")
class MemoryData(DataLayer):
    @dataclass
    class Params(DataParams):
        channels: int = bounded(1, lo=1)
        height: int = bounded(1, lo=1)
        width: int = bounded(1, lo=1)
        prefetch: int = bounded(0, lo=0, hi=64)

    def open_source(self):
        return _Unset((self.p.channels, self.p.height, self.p.width))

    def set_arrays(self, data, labels=None):
        """Feed (N, C, H, W) `data` and (N,) `labels` (copied); restart at record 0."""
        shape = (self.p.channels, self.p.height, self.p.width)
        data = np.asarray(data)
        if data.ndim != 4 or data.shape[1:] != shape:
            raise self.shape_error(f"data of shape {list(data.shape)}, the layer declares "
                                   f"(N, {', '.join(map(str, shape))})")
        labels = np.zeros(len(data), np.float32) if labels is None else np.asarray(labels)
        if labels.shape != (len(data),):
            raise self.shape_error(f"labels of shape {list(labels.shape)} for {len(data)} "
                                   "records (expected one label per record)")
        self.stop_prefetch()
        self.source = self.producer.source = ArraySource([data.copy(), labels.copy()],
                                                         "<MemoryData arrays>")
        self.cursor = self.producer.first_cursor(self.rng)
