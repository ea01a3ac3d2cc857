"""ReLU: y = x for x > 0, else negative_slope * x (leaky when the slope is non-zero).
Gradient: dx = dy for x > 0, else negative_slope * dy. Runs in place.

    - {name: relu1, type: ReLU, bottom: ip1, top: ip1}
"""
from dataclasses import dataclass

from ..kernels.cpu.relu import relu_backward, relu_forward
from ..layer import Layer
from ..registry import register_layer


@register_layer("ReLU")
class ReLU(Layer):
    @dataclass
    class Params:
        negative_slope: float = 0.0

    in_place = True

    def forward_cpu(self, bottom, top):
        relu_forward(bottom[0].data.reshape(-1), self.p.negative_slope, top[0].data.reshape(-1))

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            relu_backward(bottom[0].data.reshape(-1), top[0].diff.reshape(-1),
                          self.p.negative_slope, bottom[0].diff.reshape(-1))
