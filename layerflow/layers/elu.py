"""ELU: y = x for x > 0, else alpha * (exp(x) - 1) (Clevert et al. 2015, Caffe's ELU).
Gradient: dx = dy for x > 0, else dy * (y + alpha). Runs in place.

params: `alpha` (default 1).

    - {name: elu1, type: ELU, bottom: conv1, top: conv1, alpha: 1.0}
"""
from dataclasses import dataclass

from ..kernels.cpu.elu import elu_backward, elu_backward_inplace, elu_forward, elu_forward_inplace
from ..layer import Layer
from ..registry import register_layer


@register_layer("ELU")
class ELU(Layer):
    @dataclass
    class Params:
        alpha: float = 1.0

        def __post_init__(self):
            if self.alpha < 0:
                raise ValueError(f"ELU alpha must be >= 0, got {self.alpha}")

    in_place = True

    def setup(self, bottom, top):
        self.alpha = self.dtype.type(self.p.alpha)      # keep float32 loops float32

    def forward_cpu(self, bottom, top):
        x = bottom[0].data.reshape(-1)
        if top[0] is bottom[0]:
            elu_forward_inplace(x, self.alpha)
        else:
            elu_forward(x, self.alpha, top[0].data.reshape(-1))

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        y = top[0].data.reshape(-1)
        if top[0] is bottom[0]:
            elu_backward_inplace(y, bottom[0].diff.reshape(-1), self.alpha)
        else:
            elu_backward(bottom[0].data.reshape(-1), y, top[0].diff.reshape(-1), self.alpha,
                         bottom[0].diff.reshape(-1))

    def forward_gpu(self, bottom, top):
        k = self.device.kernels("elu")
        n = bottom[0].count
        if top[0] is bottom[0]:
            k.elu_forward_inplace(top[0].mutable_gpu_data.reshape(n), self.alpha)
        else:
            k.elu_forward(bottom[0].gpu_data.reshape(n), self.alpha,
                          top[0].mutable_gpu_data.reshape(n))

    def backward_gpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        k = self.device.kernels("elu")
        n = top[0].count
        y = top[0].gpu_data.reshape(n)
        if top[0] is bottom[0]:
            k.elu_backward_inplace(y, bottom[0].mutable_gpu_diff.reshape(n), self.alpha)
        else:
            k.elu_backward(bottom[0].gpu_data.reshape(n), y, top[0].gpu_diff.reshape(n),
                           self.alpha, bottom[0].mutable_gpu_diff.reshape(n))

    def to_onnx(self, g, x, y, bottom, top):
        g.node("Elu", x, y, self.name, alpha=float(self.p.alpha))
