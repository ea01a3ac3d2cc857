"""Sigmoid: y = 1 / (1 + exp(-x)); dx = dy * y * (1 - y). Runs in place.

    - {name: sig1, type: Sigmoid, bottom: ip1, top: ip1}
"""
from ..kernels.cpu.sigmoid import (sigmoid_backward, sigmoid_backward_inplace, sigmoid_forward,
                                   sigmoid_forward_inplace)
from ..layer import Layer
from ..registry import register_layer


@register_layer("Sigmoid")
class Sigmoid(Layer):
    in_place = True

    def forward_cpu(self, bottom, top):
        if top[0] is bottom[0]:
            sigmoid_forward_inplace(bottom[0].data.reshape(-1))
        else:
            sigmoid_forward(bottom[0].data.reshape(-1), top[0].data.reshape(-1))

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        y = top[0].data.reshape(-1)
        if top[0] is bottom[0]:
            sigmoid_backward_inplace(y, bottom[0].diff.reshape(-1))
        else:
            sigmoid_backward(y, top[0].diff.reshape(-1), bottom[0].diff.reshape(-1))

    def forward_gpu(self, bottom, top):
        k = self.device.kernels("sigmoid")
        n = bottom[0].count
        if top[0] is bottom[0]:
            k.sigmoid_forward_inplace(top[0].mutable_gpu_data.reshape(n))
        else:
            k.sigmoid_forward(bottom[0].gpu_data.reshape(n), top[0].mutable_gpu_data.reshape(n))

    def backward_gpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        k = self.device.kernels("sigmoid")
        n = top[0].count
        y = top[0].gpu_data.reshape(n)
        if top[0] is bottom[0]:
            k.sigmoid_backward_inplace(y, bottom[0].mutable_gpu_diff.reshape(n))
        else:
            k.sigmoid_backward(y, top[0].gpu_diff.reshape(n), bottom[0].mutable_gpu_diff.reshape(n))

    def to_onnx(self, g, x, y, bottom, top):
        g.node("Sigmoid", x, y, self.name)
