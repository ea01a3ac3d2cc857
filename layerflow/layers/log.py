"""Log: y = log_base(shift + scale * x) (base -1, the default, means e). Gradient:
dx = dy * scale / (ln(base) * (shift + scale * x)). Not in place (backward needs x).

params: `base` (default -1 = e; else > 0 and not 1), `scale` (1), `shift` (0).

    - {name: log1, type: Log, bottom: x, top: lx, shift: 1}
"""
from dataclasses import dataclass

from ..kernels.cpu.log import log_backward, log_forward
from ..layer import Layer
from ..registry import register_layer
from .exp import log_of_base


@register_layer("Log")
class Log(Layer):
    @dataclass
    class Params:
        base: float = -1.0
        scale: float = 1.0
        shift: float = 0.0

        def __post_init__(self):
            log_of_base(self.base, "Log")

    def setup(self, bottom, top):
        t = self.dtype.type
        self.scale, self.shift = t(self.p.scale), t(self.p.shift)
        self.inv_log_base = t(1.0 / log_of_base(self.p.base, "Log"))

    def forward_cpu(self, bottom, top):
        log_forward(bottom[0].data.reshape(-1), self.scale, self.shift, self.inv_log_base,
                    top[0].data.reshape(-1))

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            log_backward(bottom[0].data.reshape(-1), top[0].diff.reshape(-1), self.scale,
                         self.shift, self.inv_log_base, bottom[0].diff.reshape(-1))

    def forward_gpu(self, bottom, top):
        n = bottom[0].count
        self.device.kernels("log").log_forward(bottom[0].gpu_data.reshape(n), self.scale,
                                               self.shift, self.inv_log_base,
                                               top[0].mutable_gpu_data.reshape(n))

    def backward_gpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            n = bottom[0].count
            self.device.kernels("log").log_backward(
                bottom[0].gpu_data.reshape(n), top[0].gpu_diff.reshape(n), self.scale,
                self.shift, self.inv_log_base, bottom[0].mutable_gpu_diff.reshape(n))
