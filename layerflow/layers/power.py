"""Power: y = (shift + scale * x)^power. Gradient: dx = dy * power * scale *
(shift + scale * x)^(power - 1); where power * scale is 0 the output is the constant
shift^power (1 for power 0) and dx = 0, as in Caffe. Not in place (backward needs x).

params: `power` (default 1), `scale` (1), `shift` (0).

    - {name: sq, type: Power, bottom: x, top: x2, power: 2}
"""
from dataclasses import dataclass

from ..kernels.cpu.power import power_backward, power_forward
from ..layer import Layer
from ..registry import register_layer


@register_layer("Power")
class Power(Layer):
    @dataclass
    class Params:
        power: float = 1.0
        scale: float = 1.0
        shift: float = 0.0

    def setup(self, bottom, top):
        t = self.dtype.type
        self.power, self.scale, self.shift = t(self.p.power), t(self.p.scale), t(self.p.shift)
        self.constant = self.p.power * self.p.scale == 0

    def forward_cpu(self, bottom, top):
        if self.constant:
            top[0].data[...] = 1.0 if self.p.power == 0 else self.p.shift ** self.p.power
        else:
            power_forward(bottom[0].data.reshape(-1), self.power, self.scale, self.shift,
                          top[0].data.reshape(-1))

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        if self.constant:
            bottom[0].diff[...] = 0
        else:
            power_backward(bottom[0].data.reshape(-1), top[0].diff.reshape(-1), self.power,
                           self.scale, self.shift, bottom[0].diff.reshape(-1))

    def forward_gpu(self, bottom, top):
        if self.constant:               # a constant output: written on the host, goes up
            top[0].data[...] = 1.0 if self.p.power == 0 else self.p.shift ** self.p.power
            return
        n = bottom[0].count
        self.device.kernels("power").power_forward(bottom[0].gpu_data.reshape(n), self.power,
                                                   self.scale, self.shift,
                                                   top[0].mutable_gpu_data.reshape(n))

    def backward_gpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        dx = bottom[0].mutable_gpu_diff.reshape(bottom[0].count)
        if self.constant:
            self.device.fill_zero(dx)
        else:
            self.device.kernels("power").power_backward(
                bottom[0].gpu_data.reshape(dx.size), top[0].gpu_diff.reshape(dx.size),
                self.power, self.scale, self.shift, dx)
