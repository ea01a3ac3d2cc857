"""Exp: y = base^(shift + scale * x) (base -1, the default, means e). Gradient:
dx = dy * y * scale * ln(base). Runs in place (backward needs only y).

params: `base` (default -1 = e; else > 0), `scale` (1), `shift` (0).

    - {name: exp1, type: Exp, bottom: x, top: ex, base: 2, scale: 0.5}
"""
import math
from dataclasses import dataclass

from ..kernels.cpu.exp import exp_backward, exp_backward_inplace, exp_forward, exp_forward_inplace
from ..layer import Layer
from ..registry import register_layer


def log_of_base(base, layer_type):
    """ln(base), base -1 meaning e; refuses a base Caffe refuses (not > 0; 1 for Log)."""
    if base == -1:
        return 1.0
    if base <= 0 or (base == 1 and layer_type == "Log"):
        rule = "> 0 and not 1" if layer_type == "Log" else "> 0"
        raise ValueError(f"{layer_type} base must be {rule} (or -1 for e), got {base}")
    return math.log(base)


@register_layer("Exp")
class Exp(Layer):
    @dataclass
    class Params:
        base: float = -1.0
        scale: float = 1.0
        shift: float = 0.0

        def __post_init__(self):
            log_of_base(self.base, "Exp")

    in_place = True

    def setup(self, bottom, top):
        log_base = log_of_base(self.p.base, "Exp")
        self.inner = self.dtype.type(log_base * self.p.scale)
        self.outer = self.dtype.type(math.exp(log_base * self.p.shift))

    def forward_cpu(self, bottom, top):
        x = bottom[0].data.reshape(-1)
        if top[0] is bottom[0]:
            exp_forward_inplace(x, self.inner, self.outer)
        else:
            exp_forward(x, self.inner, self.outer, top[0].data.reshape(-1))

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        y = top[0].data.reshape(-1)
        if top[0] is bottom[0]:
            exp_backward_inplace(y, bottom[0].diff.reshape(-1), self.inner)
        else:
            exp_backward(y, top[0].diff.reshape(-1), self.inner, bottom[0].diff.reshape(-1))

    def forward_gpu(self, bottom, top):
        k = self.device.kernels("exp")
        n = bottom[0].count
        if top[0] is bottom[0]:
            k.exp_forward_inplace(top[0].mutable_gpu_data.reshape(n), self.inner, self.outer)
        else:
            k.exp_forward(bottom[0].gpu_data.reshape(n), self.inner, self.outer,
                          top[0].mutable_gpu_data.reshape(n))

    def backward_gpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        k = self.device.kernels("exp")
        n = top[0].count
        y = top[0].gpu_data.reshape(n)
        if top[0] is bottom[0]:
            k.exp_backward_inplace(y, bottom[0].mutable_gpu_diff.reshape(n), self.inner)
        else:
            k.exp_backward(y, top[0].gpu_diff.reshape(n), self.inner,
                           bottom[0].mutable_gpu_diff.reshape(n))
