"""BNLL (binomial normal log likelihood, softplus): y = log(1 + exp(x)), computed as
max(x, 0) + log1p(exp(-|x|)) so that large |x| neither overflows nor loses digits.
Gradient: dx = dy * sigmoid(x). Not in place (backward needs x).

    - {name: bnll1, type: BNLL, bottom: ip1, top: bnll1}
"""
from ..kernels.cpu.bnll import bnll_backward, bnll_forward
from ..layer import Layer
from ..registry import register_layer


@register_layer("BNLL")
class BNLL(Layer):
    def forward_cpu(self, bottom, top):
        bnll_forward(bottom[0].data.reshape(-1), top[0].data.reshape(-1))

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bnll_backward(bottom[0].data.reshape(-1), top[0].diff.reshape(-1),
                          bottom[0].diff.reshape(-1))

    def forward_gpu(self, bottom, top):
        n = bottom[0].count
        self.device.kernels("bnll").bnll_forward(bottom[0].gpu_data.reshape(n),
                                                     top[0].mutable_gpu_data.reshape(n))

    def backward_gpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            n = bottom[0].count
            self.device.kernels("bnll").bnll_backward(
                bottom[0].gpu_data.reshape(n), top[0].gpu_diff.reshape(n),
                bottom[0].mutable_gpu_diff.reshape(n))

    def to_onnx(self, g, x, y, bottom, top):
        g.node("Softplus", x, y, self.name)
