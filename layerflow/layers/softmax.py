"""Softmax along `axis`: y_c = exp(x_c) / sum_k exp(x_k); dx = y * (dy - sum(dy * y)).

    - {name: prob, type: Softmax, bottom: ip2, top: prob}
"""
from dataclasses import dataclass

from ..kernels.cpu.softmax import softmax_backward, softmax_forward
from ..layer import Layer, split_shape
from ..registry import register_layer


@register_layer("Softmax")
class Softmax(Layer):
    @dataclass
    class Params:
        axis: int = 1

    def reshape(self, bottom, top):
        try:
            self.dims = split_shape(bottom[0].shape, self.p.axis)
        except ValueError as exc:
            raise self.shape_error(f"bottom '{bottom[0].name}': {exc}") from None
        top[0].reshape(bottom[0].shape)

    def forward_cpu(self, bottom, top):
        softmax_forward(bottom[0].data.reshape(self.dims), top[0].data.reshape(self.dims))

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            softmax_backward(top[0].data.reshape(self.dims), top[0].diff.reshape(self.dims),
                             bottom[0].diff.reshape(self.dims))

    def forward_gpu(self, bottom, top):
        self.device.kernels("softmax").softmax_forward(
            bottom[0].gpu_data.reshape(self.dims), top[0].mutable_gpu_data.reshape(self.dims))

    def backward_gpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            self.device.kernels("softmax").softmax_backward(
                top[0].gpu_data.reshape(self.dims), top[0].gpu_diff.reshape(self.dims),
                bottom[0].mutable_gpu_diff.reshape(self.dims))

    def to_onnx(self, g, x, y, bottom, top):
        g.node("Softmax", x, y, self.name, axis=self.p.axis)
