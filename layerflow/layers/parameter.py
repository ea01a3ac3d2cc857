"""Parameter: a learnable blob of a given shape as the layer's only top (Caffe's layer), for
a learned input such as a per-position bias or an embedding table fed to other layers.

    top = w;   dw += dtop

`shape` is the blob's shape; `filler` fills it (default constant 0; weights usually come
from a snapshot). The top is a copy (not a shared buffer), so that `iter_size`
accumulation adds into w's diff like every other param.

    - {name: pos, type: Parameter, top: pos_bias, shape: [1, 64, 7, 7]}
"""
from dataclasses import dataclass, field

import numpy as np

from ..fillers import FillerSpec
from ..layer import Layer
from ..registry import register_layer


@register_layer("Parameter")
class Parameter(Layer):
    @dataclass
    class Params:
        shape: list[int] = field(default_factory=list)
        filler: FillerSpec = field(default_factory=FillerSpec)

        def __post_init__(self):
            if any(d < 0 for d in self.shape):
                raise ValueError(f"Parameter 'shape' {self.shape} has a negative dimension")

    num_bottom = 0

    def setup(self, bottom, top):
        self.add_param(tuple(self.p.shape), self.p.filler)

    def reshape(self, bottom, top):
        top[0].reshape(self.blobs[0].shape)

    def forward_cpu(self, bottom, top):
        np.copyto(top[0].data, self.blobs[0].data)

    def backward_cpu(self, top, propagate_down, bottom):
        w = self.blobs[0].diff
        np.add(w, top[0].diff, out=w)

    def forward_gpu(self, bottom, top):
        self.device.copy(self.blobs[0].gpu_data, top[0].mutable_gpu_data)

    def backward_gpu(self, top, propagate_down, bottom):
        w = self.blobs[0]
        dw = w.mutable_gpu_diff.reshape(w.count)
        self.device.kernels("split").sum_into(dw, top[0].gpu_diff.reshape(w.count), dw)
