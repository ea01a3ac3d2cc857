"""NPZData: named arrays of an `.npz` file as tops, one record per row.

`keys` names the arrays for the tops in order (default: the top names); every array has one
row per record, the first is the data (transformed; (N, C, H, W) for image transforms), the
second usually the labels (N,). Read without pickle. No gradient.

    - {name: data, type: NPZData, top: [data, label], source: train.npz, batch_size: 32,
       transform: {scale: 0.00390625}}
"""
from dataclasses import dataclass, field

from ..data.layer import DataLayer, DataParams
from ..data.sources import npz_source
from ..registry import register_layer


@register_layer("NPZData")
class NPZData(DataLayer):
    @dataclass
    class Params(DataParams):
        source: str = ""
        keys: list[str] = field(default_factory=list)

        def __post_init__(self):
            if not self.source:
                raise ValueError("NPZData needs 'source', the .npz file")

    num_top = (1, None)

    def open_source(self):
        return npz_source(self.p.source, top_names(self, self.p.keys))


def top_names(layer, names):
    """`names` if given, else the layer's top names (or data, label outside a net)."""
    if names:
        return list(names)
    if layer.spec is not None and layer.spec.top:
        return list(layer.spec.top)
    return ["data", "label"]
