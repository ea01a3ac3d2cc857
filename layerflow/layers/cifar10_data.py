"""CIFAR10Data: the binary CIFAR-10 files as `data` (N, 3, 32, 32) and `label` (N,) tops.

Reads `data_batch_1.bin` .. `data_batch_5.bin` (train) or `test_batch.bin` (test) from
`$LAYERFLOW_DATA/cifar10` (or `source`; a `cifar-10-batches-bin` folder inside also works).
Each record is 1 label byte and 3072 pixel bytes, R, G, B planes of 32 x 32, values 0..255.
No gradient.

    - {name: cifar, type: CIFAR10Data, top: [data, label], split: train, batch_size: 100,
       transform: [{crop: 28}, {mirror: true}, {mean_value: [125, 123, 114]}, {scale: 0.017}]}
"""
from dataclasses import dataclass
from typing import Literal

from ..data.layer import DataLayer, DataParams
from ..data.sources import cifar10_source
from ..registry import register_layer


@register_layer("CIFAR10Data")
class CIFAR10Data(DataLayer):
    @dataclass
    class Params(DataParams):
        split: Literal["train", "test"] = "train"
        source: str | None = None            # folder with the .bin files (default: data root)

    default_num_classes = 10

    def open_source(self):
        return cifar10_source(self.p.split, self.p.source)
