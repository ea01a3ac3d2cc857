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

from ..config.schema import bounded
from ..data.layer import DataLayer, DataParams
from ..data.lmdb_source import LMDBSource
from ..registry import register_layer


@register_layer("LMDBData")
class LMDBData(DataLayer):
    @dataclass
    class Params(DataParams):
        source: str = ""
        shuffle: bool | None = False
        backend: str = "LMDB"                  # Caffe's data_param.backend
        rand_skip: int = bounded(0, lo=0)      # start at a random record in [0, rand_skip)

        def __post_init__(self):
            if not self.source:
                raise ValueError("LMDBData needs 'source', the LMDB folder")
            if self.backend.upper() != "LMDB":
                raise ValueError(f"backend {self.backend} is not supported: convert the "
                                 "database to LMDB (Caffe's convert tools take --backend lmdb)")

    def open_source(self):
        return LMDBSource(self.p.source)
