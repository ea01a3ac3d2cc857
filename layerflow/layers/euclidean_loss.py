"""EuclideanLoss: loss = 1/(2N) * sum (a - b)^2 over the N items of the batch.
Gradients: da = loss_weight / N * (a - b), db = -da.

    - {name: loss, type: EuclideanLoss, bottom: [pred, target], top: loss}
"""
import numpy as np

from ..kernels.cpu.euclidean_loss import euclidean_diff, scaled_copy
from ..layer import Layer
from ..registry import register_layer


@register_layer("EuclideanLoss")
class EuclideanLoss(Layer):
    num_bottom = 2
    is_loss = True

    def reshape(self, bottom, top):
        if bottom[0].count != bottom[1].count:
            raise self.shape_error(f"bottoms '{bottom[0].name}' {list(bottom[0].shape)} and "
                                   f"'{bottom[1].name}' {list(bottom[1].shape)} differ in size")
        if not hasattr(self, "d") or self.d.size != bottom[0].count:
            self.d = np.zeros(bottom[0].count, self.dtype)
            if self.device is not None:               # the difference, kept on the device
                self.d_gpu = self.device.zeros(bottom[0].count, self.dtype)
        top[0].reshape(())

    def forward_cpu(self, bottom, top):
        total = euclidean_diff(bottom[0].data.reshape(-1), bottom[1].data.reshape(-1), self.d)
        top[0].data[...] = total / (2.0 * bottom[0].shape[0])

    def backward_cpu(self, top, propagate_down, bottom):
        for i, sign in ((0, 1.0), (1, -1.0)):
            if propagate_down[i]:
                alpha = sign * float(top[0].diff) / bottom[i].shape[0]
                scaled_copy(self.d, alpha, bottom[i].diff.reshape(-1))

    def forward_gpu(self, bottom, top):
        total = self.device.kernels("euclidean_loss").euclidean_diff(
            bottom[0].gpu_data.reshape(bottom[0].count),
            bottom[1].gpu_data.reshape(bottom[1].count), self.d_gpu)
        top[0].data[...] = total / (2.0 * bottom[0].shape[0])

    def backward_gpu(self, top, propagate_down, bottom):
        k = self.device.kernels("euclidean_loss")
        for i, sign in ((0, 1.0), (1, -1.0)):
            if propagate_down[i]:
                alpha = sign * float(top[0].cpu_diff) / bottom[i].shape[0]
                k.scaled_copy(self.d_gpu, alpha, bottom[i].mutable_gpu_diff.reshape(bottom[i].count))
