"""LMDBData: an LMDB written by Caffe's convert tools (convert_imageset, convert_mnist_data,
convert_cifar_data) as `data` (N, C, H, W) and `label` (N,) tops.

Each value is a serialized Caffe `Datum` (channels, height, width, uint8 `data` or
`float_data`, label, and `encoded` for JPEG/PNG bytes, decoded to Caffe's BGR order), read
in key order as Caffe does (shuffled per epoch only with `shuffle: true`). Needs the lmdb
package (an optional extra). No gradient.

    - {name: data, type: LMDBData, top: [data, label], source: examples/mnist/mnist_train_lmdb,
       batch_size: 64, transform: {scale: 0.00390625}}
"""
from dataclasses import dataclass

from ..data.layer import DataLayer, DataParams
from ..data.lmdb_source import LMDBSource
from ..registry import register_layer


@register_layer("LMDBData")
class LMDBData(DataLayer):
    @dataclass
    class Params(DataParams):
        source: str = ""
        shuffle: bool | None = False

        def __post_init__(self):
            if not self.source:
                raise ValueError("LMDBData needs 'source', the LMDB folder")

    def open_source(self):
        return LMDBSource(self.p.source)
