"""AbsVal: y = |x|. Gradient: dx = sign(x) * dy (0 at x = 0). Not in place (as Caffe).

    - {name: abs1, type: AbsVal, bottom: conv1, top: abs1}
"""
from ..kernels.cpu.absval import absval_backward, absval_forward
from ..layer import Layer
from ..registry import register_layer


@register_layer("AbsVal")
class AbsVal(Layer):
    def forward_cpu(self, bottom, top):
        absval_forward(bottom[0].data.reshape(-1), top[0].data.reshape(-1))

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            absval_backward(bottom[0].data.reshape(-1), top[0].diff.reshape(-1),
                            bottom[0].diff.reshape(-1))

    def forward_gpu(self, bottom, top):
        n = bottom[0].count
        self.device.kernels("absval").absval_forward(bottom[0].gpu_data.reshape(n),
                                                     top[0].mutable_gpu_data.reshape(n))

    def backward_gpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            n = bottom[0].count
            self.device.kernels("absval").absval_backward(
                bottom[0].gpu_data.reshape(n), top[0].gpu_diff.reshape(n),
                bottom[0].mutable_gpu_diff.reshape(n))

    def to_onnx(self, g, x, y, bottom, top):
        g.node("Abs", x, y, self.name)
