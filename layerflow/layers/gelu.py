"""GELU: y = x * Phi(x), Phi the standard normal CDF (Hendrycks & Gimpel 2016; not in BVLC
Caffe, found in its forks and in ONNX). Gradient: dx = dy * (Phi(x) + x * phi(x)).
With `approximate: tanh`: y = x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) and its
exact derivative (PyTorch's `gelu(x, approximate='tanh')`).

params: `approximate` (`none`, the erf form, default; or `tanh`).

    - {name: gelu1, type: GELU, bottom: fc1, top: fc1_gelu}
"""
from dataclasses import dataclass
from typing import Literal

from ..kernels.cpu.gelu import gelu_backward, gelu_forward, gelu_tanh_backward, gelu_tanh_forward
from ..layer import Layer
from ..registry import register_layer


@register_layer("GELU")
class GELU(Layer):
    @dataclass
    class Params:
        approximate: Literal["none", "tanh"] = "none"

    def setup(self, bottom, top):
        tanh = self.p.approximate == "tanh"
        self.fwd = gelu_tanh_forward if tanh else gelu_forward
        self.bwd = gelu_tanh_backward if tanh else gelu_backward

    def forward_cpu(self, bottom, top):
        self.fwd(bottom[0].data.reshape(-1), top[0].data.reshape(-1))

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            self.bwd(bottom[0].data.reshape(-1), top[0].diff.reshape(-1),
                     bottom[0].diff.reshape(-1))

    def forward_gpu(self, bottom, top):
        n = bottom[0].count
        getattr(self.device.kernels("gelu"), self.fwd.__name__)(
            bottom[0].gpu_data.reshape(n), top[0].mutable_gpu_data.reshape(n))

    def backward_gpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            n = bottom[0].count
            getattr(self.device.kernels("gelu"), self.bwd.__name__)(
                bottom[0].gpu_data.reshape(n), top[0].gpu_diff.reshape(n),
                bottom[0].mutable_gpu_diff.reshape(n))
