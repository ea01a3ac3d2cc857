"""TanH: y = tanh(x); dx = dy * (1 - y^2). Runs in place.

    - {name: tanh1, type: TanH, bottom: ip1, top: ip1}
"""
from ..kernels.cpu.tanh import tanh_backward, tanh_forward
from ..layer import Layer
from ..registry import register_layer


@register_layer("TanH")
class TanH(Layer):
    in_place = True

    def forward_cpu(self, bottom, top):
        tanh_forward(bottom[0].data.reshape(-1), top[0].data.reshape(-1))

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            tanh_backward(top[0].data.reshape(-1), top[0].diff.reshape(-1),
                          bottom[0].diff.reshape(-1))
