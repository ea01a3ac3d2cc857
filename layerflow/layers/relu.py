"""ReLU: y = x for x > 0, else negative_slope * x (leaky when the slope is non-zero).
Gradient: dx = dy for x > 0, else negative_slope * dy. Runs in place.

    - {name: relu1, type: ReLU, bottom: ip1, top: ip1}
"""
from dataclasses import dataclass

from ..kernels.cpu.eltwise import parts_for
from ..kernels.cpu.relu import (relu_backward, relu_backward_inplace, relu_forward,
                                relu_forward_inplace)
from ..layer import Layer
from ..registry import register_layer


@register_layer("ReLU")
class ReLU(Layer):
    @dataclass
    class Params:
        negative_slope: float = 0.0

    in_place = True
    _parts = 1              # runs (threads) of the element-wise loops, set in reshape

    def setup(self, bottom, top):
        self.slope = self.dtype.type(self.p.negative_slope)   # keep float32 loops float32

    def reshape(self, bottom, top):
        super().reshape(bottom, top)
        self._parts = parts_for(self.runtime.threads, bottom[0].count)   # threads: large blobs

    def forward_cpu(self, bottom, top):
        x = bottom[0].data.reshape(-1)
        if top[0] is bottom[0]:
            relu_forward_inplace(x, self.slope, self._parts)
        else:
            relu_forward(x, self.slope, top[0].data.reshape(-1), self._parts)

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        x = bottom[0].data.reshape(-1)
        if top[0] is bottom[0]:
            relu_backward_inplace(x, bottom[0].diff.reshape(-1), self.slope, self._parts)
        else:
            relu_backward(x, top[0].diff.reshape(-1), self.slope, bottom[0].diff.reshape(-1),
                          self._parts)

    def forward_gpu(self, bottom, top):
        k = self.device.kernels("relu")
        if top[0] is bottom[0]:
            x = top[0].mutable_gpu_data
            k.relu_forward_inplace(x.reshape(x.size), self.slope)
        else:
            x, y = bottom[0].gpu_data, top[0].mutable_gpu_data
            k.relu_forward(x.reshape(x.size), self.slope, y.reshape(y.size))

    def backward_gpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        k = self.device.kernels("relu")
        x = bottom[0].gpu_data.reshape(bottom[0].count)
        dx = bottom[0].mutable_gpu_diff.reshape(bottom[0].count)
        if top[0] is bottom[0]:
            k.relu_backward_inplace(x, dx, self.slope)
        else:
            k.relu_backward(x, top[0].gpu_diff.reshape(top[0].count), self.slope, dx)

    def to_onnx(self, g, x, y, bottom, top):
        if self.p.negative_slope:
            g.node("LeakyRelu", x, y, self.name, alpha=float(self.p.negative_slope))
        else:
            g.node("Relu", x, y, self.name)
