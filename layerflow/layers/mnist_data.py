"""MNISTData: batches of MNIST digits as `data` (N, 1, 28, 28) and `label` (N,) tops.

Reads the IDX files under `$LAYERFLOW_DATA/mnist` (or `source`). Where they are missing,
the first run downloads them there, checked (`layerflow data fetch mnist` does the same by
hand); `auto_download: false` or `LAYERFLOW_OFFLINE=1` turns that off. In TRAIN it
reshuffles every epoch from the layer's seeded generator, so runs repeat; in TEST it walks
the split in order, so `test_iter` x `batch_size` = 10,000 covers the test set exactly once.
`transform` as every data layer (docs/data.md); the mapping form is Caffe's:
y = (x - mean_value) * scale. No gradient.

    - {name: mnist, type: MNISTData, top: [data, label], split: train, batch_size: 64,
       transform: {scale: 0.00390625}}
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..data import data_root
from ..data.layer import DataLayer, DataParams
from ..data.mnist import FILES, load_mnist
from ..data.sources import ArraySource
from ..data.transforms import TransformSpec
from ..registry import register_layer

__all__ = ["MNISTData", "TransformSpec"]


@register_layer("MNISTData")
class MNISTData(DataLayer):
    @dataclass
    class Params(DataParams):
        split: Literal["train", "test"] = "train"
        source: str | None = None            # folder with the IDX files (default: data root)
        auto_download: bool = True           # fetch into $LAYERFLOW_DATA/mnist when missing

    default_num_classes = 10

    def open_source(self):
        images, labels = load_mnist(self.p.split, self.p.source, self.p.auto_download,
                                    self.name)
        side = int(round(images.shape[1] ** 0.5))
        folder = Path(self.p.source) if self.p.source else data_root() / "mnist"
        return ArraySource([images.reshape(-1, 1, side, side), labels],
                           str(folder / FILES[self.p.split][0]))
