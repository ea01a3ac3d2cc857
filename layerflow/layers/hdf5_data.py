"""HDF5Data: Caffe's HDF5 input: `source` is a text file listing .h5 files (one per line,
relative to the list's folder), or one .h5 file; each holds a dataset per top, named as the
top (or as `datasets`), with one row per record. Files are read into memory and joined.
Needs h5py (an optional extra). No gradient.

    - {name: data, type: HDF5Data, top: [data, label], source: train_h5.txt, batch_size: 64}
"""
from dataclasses import dataclass, field

from ..data.layer import DataLayer, DataParams
from ..data.sources import hdf5_source
from ..registry import register_layer
from .npz_data import top_names


@register_layer("HDF5Data")
class HDF5Data(DataLayer):
    @dataclass
    class Params(DataParams):
        source: str = ""
        datasets: list[str] = field(default_factory=list)

        def __post_init__(self):
            if not self.source:
                raise ValueError("HDF5Data needs 'source', a list of .h5 files or one .h5 file")

    num_top = (1, None)

    def open_source(self):
        return hdf5_source(self.p.source, top_names(self, self.p.datasets))
