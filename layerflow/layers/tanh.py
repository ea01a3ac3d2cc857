"""TanH: y = tanh(x); dx = dy * (1 - y^2). Runs in place.

    - {name: tanh1, type: TanH, bottom: ip1, top: ip1}
"""
from ..kernels.cpu.tanh import (tanh_backward, tanh_backward_inplace, tanh_forward,
                                tanh_forward_inplace)
from ..layer import Layer
from ..registry import register_layer


@register_layer("TanH")
class TanH(Layer):
    in_place = True

    def forward_cpu(self, bottom, top):
        if top[0] is bottom[0]:
            tanh_forward_inplace(bottom[0].data.reshape(-1))
        else:
            tanh_forward(bottom[0].data.reshape(-1), top[0].data.reshape(-1))

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        y = top[0].data.reshape(-1)
        if top[0] is bottom[0]:
            tanh_backward_inplace(y, bottom[0].diff.reshape(-1))
        else:
            tanh_backward(y, top[0].diff.reshape(-1), bottom[0].diff.reshape(-1))

    def forward_gpu(self, bottom, top):
        k = self.device.kernels("tanh")
        n = bottom[0].count
        if top[0] is bottom[0]:
            k.tanh_forward_inplace(top[0].mutable_gpu_data.reshape(n))
        else:
            k.tanh_forward(bottom[0].gpu_data.reshape(n), top[0].mutable_gpu_data.reshape(n))

    def backward_gpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        k = self.device.kernels("tanh")
        n = top[0].count
        y = top[0].gpu_data.reshape(n)
        if top[0] is bottom[0]:
            k.tanh_backward_inplace(y, bottom[0].mutable_gpu_diff.reshape(n))
        else:
            k.tanh_backward(y, top[0].gpu_diff.reshape(n), bottom[0].mutable_gpu_diff.reshape(n))

    def to_onnx(self, g, x, y, bottom, top):
        g.node("Tanh", x, y, self.name)
