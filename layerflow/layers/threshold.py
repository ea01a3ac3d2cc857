"""Threshold: y = 1 where x > threshold, else 0. A step has no useful gradient, and Caffe's
layer has no backward: no gradient flows through it to its bottom. Runs in place.

params: `threshold` (default 0).

    - {name: binarize, type: Threshold, bottom: prob, top: mask, threshold: 0.5}
"""
from dataclasses import dataclass

from ..kernels.cpu.threshold import threshold_forward, threshold_forward_inplace
from ..layer import Layer
from ..registry import register_layer


@register_layer("Threshold")
class Threshold(Layer):
    @dataclass
    class Params:
        threshold: float = 0.0

    in_place = True

    def can_backprop(self, bottom_index):
        return False

    def setup(self, bottom, top):
        self.threshold = self.dtype.type(self.p.threshold)

    def forward_cpu(self, bottom, top):
        x = bottom[0].data.reshape(-1)
        if top[0] is bottom[0]:
            threshold_forward_inplace(x, self.threshold)
        else:
            threshold_forward(x, self.threshold, top[0].data.reshape(-1))

    def backward_cpu(self, top, propagate_down, bottom):
        pass

    def forward_gpu(self, bottom, top):
        k = self.device.kernels("threshold")
        n = bottom[0].count
        if top[0] is bottom[0]:
            k.threshold_forward_inplace(top[0].mutable_gpu_data.reshape(n), self.threshold)
        else:
            k.threshold_forward(bottom[0].gpu_data.reshape(n), self.threshold,
                                top[0].mutable_gpu_data.reshape(n))

    def backward_gpu(self, top, propagate_down, bottom):
        pass
