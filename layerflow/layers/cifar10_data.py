"""CIFAR10Data: the binary CIFAR-10 files as `data` (N, 3, 32, 32) and `label` (N,) tops.

Reads `data_batch_1.bin` .. `data_batch_5.bin` (train) or `test_batch.bin` (test) from
`$LAYERFLOW_DATA/cifar10` (or `source`; a `cifar-10-batches-bin` folder inside also works).
Where they are missing, the first run downloads the binary archive into
`$LAYERFLOW_DATA/cifar10` and unpacks it (`layerflow data fetch cifar10` by hand);
`auto_download: false` or `LAYERFLOW_OFFLINE=1` turns that off.
Each record is 1 label byte and 3072 pixel bytes, R, G, B planes of 32 x 32, values 0..255.
No gradient.

    - {name: cifar, type: CIFAR10Data, top: [data, label], split: train, batch_size: 100,
       transform: [{crop: 28}, {mirror: true}, {mean_value: [125, 123, 114]}, {scale: 0.017}]}
"""
from dataclasses import dataclass
from typing import Literal

from ..data import data_root
from ..data.fetch import ensure_dataset
from ..data.layer import DataLayer, DataParams
from ..data.sources import CIFAR10_FILES, cifar10_source
from ..registry import register_layer


@register_layer("CIFAR10Data")
class CIFAR10Data(DataLayer):
    @dataclass
    class Params(DataParams):
        split: Literal["train", "test"] = "train"
        source: str | None = None            # folder with the .bin files (default: data root)
        auto_download: bool = True           # fetch into $LAYERFLOW_DATA/cifar10 when missing

    default_num_classes = 10

    def open_source(self):
        if not self.p.source:
            folder = data_root() / "cifar10"
            first = CIFAR10_FILES[self.p.split][0]
            if not ((folder / first).exists() or
                    (folder / "cifar-10-batches-bin" / first).exists()):
                ensure_dataset("cifar10", folder, self.p.auto_download, self.name)
        return cifar10_source(self.p.split, self.p.source)
