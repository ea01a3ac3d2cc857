"""DummyData: tops of given shapes filled by fillers, for synthetic runs and benchmarks.

Each top gets `shape[i]` and `data_filler[i]` (one entry applies to all; a flat
`shape: [N, C]` is one shape). With `refill: true` the fillers draw anew every forward
(fresh random batches); by default they fill once.

    - name: data
      type: DummyData
      top: [data, label]
      shape: [[100, 3, 32, 32], [100]]
      data_filler: [{type: gaussian, std: 1}, {type: uniform, min: 0, max: 9.999}]
"""
from dataclasses import dataclass, field

import numpy as np

from ..fillers import FillerSpec, fill
from ..layer import Layer
from ..registry import register_layer


@register_layer("DummyData")
class DummyData(Layer):
    @dataclass
    class Params:
        shape: list[int] | list[list[int]] = field(default_factory=list)  # one, or one per top
        data_filler: list[FillerSpec] = field(default_factory=lambda: [FillerSpec()])
        refill: bool = False
        integer_labels: bool = True   # floor the values of 1-D tops (labels), as class ids

    num_bottom = 0
    num_top = (1, None)

    def setup(self, bottom, top):
        shapes = self.p.shape if self.p.shape and isinstance(self.p.shape[0], list) \
            else [self.p.shape]                  # a flat `shape: [..]`: one for all tops
        if len(shapes) not in (1, len(top)):
            raise self.shape_error(f"{len(shapes)} shapes for {len(top)} tops")
        if len(self.p.data_filler) not in (1, len(top)):
            raise self.shape_error(f"{len(self.p.data_filler)} fillers for {len(top)} tops")
        for i, t in enumerate(top):
            t.reshape(shapes[i if len(shapes) > 1 else 0])
        self._fill(top)

    def reshape(self, bottom, top):
        pass

    def _fill(self, top):
        for i, t in enumerate(top):
            fill(t.data, self.p.data_filler[i if len(self.p.data_filler) > 1 else 0], self.rng)
            if self.p.integer_labels and t.data.ndim == 1:
                np.floor(t.data, out=t.data)

    def forward_cpu(self, bottom, top):
        if self.p.refill:
            self._fill(top)
