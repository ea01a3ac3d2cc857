"""SmoothL1Loss: Fast R-CNN's bounding-box regression loss (Girshick 2015; the layer of
its Caffe fork and of py-faster-rcnn).

d = w_in * (a - b); loss = 1/N * sum w_out * e(d), N = a.shape[0], where
e(d) = 0.5 sigma^2 d^2 for |d| < 1 / sigma^2, else |d| - 0.5 / sigma^2.
Gradients: da = loss_weight / N * w_in * w_out * e'(d), e'(d) = sigma^2 d or sign(d);
db = -da. Bottoms: a, b, and optionally the inside weights w_in (3 bottoms, Fast R-CNN) or
inside and outside weights (4 bottoms, py-faster-rcnn); absent weights are 1 and weights
get no gradient. Caffe sums |w_out * e|, the same for the non-negative outside weights
these nets use.

params: `sigma` (default 1).

    - {name: loss_bbox, type: SmoothL1Loss, top: loss_bbox, sigma: 3,
       bottom: [bbox_pred, bbox_targets, bbox_inside_weights, bbox_outside_weights]}
"""
from dataclasses import dataclass

import numpy as np

from ..config.schema import bounded
from ..kernels.cpu.euclidean_loss import scaled_copy
from ..kernels.cpu.smooth_l1_loss import smooth_l1_forward
from ..layer import Layer
from ..registry import register_layer


@register_layer("SmoothL1Loss")
class SmoothL1Loss(Layer):
    @dataclass
    class Params:
        sigma: float = bounded(1.0, lo=1e-12)

    num_bottom = (2, 4)
    is_loss = True

    def can_backprop(self, bottom_index):
        return bottom_index < 2

    def setup(self, bottom, top):
        self.sigma2 = self.dtype.type(self.p.sigma * self.p.sigma)
        self.grad = np.zeros(0, self.dtype)
        self.none = np.zeros(0, self.dtype)

    def reshape(self, bottom, top):
        a = bottom[0]
        for other in bottom[1:]:
            if other.shape != a.shape:
                raise self.shape_error(f"bottom '{other.name}' {list(other.shape)} must have "
                                       f"the shape of '{a.name}' {list(a.shape)}")
        if not a.shape:
            raise self.shape_error(f"bottom '{a.name}' needs a batch axis")
        if self.grad.size != a.count:
            self.grad = np.zeros(a.count, self.dtype)
            if self.device is not None:               # the gradient, kept on the device
                self.grad_gpu = self.device.zeros(a.count, self.dtype)
        top[0].reshape(())

    def forward_cpu(self, bottom, top):
        w_in = bottom[2].data.reshape(-1) if len(bottom) > 2 else self.none
        w_out = bottom[3].data.reshape(-1) if len(bottom) > 3 else self.none
        total = smooth_l1_forward(bottom[0].data.reshape(-1), bottom[1].data.reshape(-1), w_in,
                                  len(bottom) > 2, w_out, len(bottom) > 3, self.sigma2, self.grad)
        top[0].data[...] = total / bottom[0].shape[0]

    def backward_cpu(self, top, propagate_down, bottom):
        for i, sign in ((0, 1.0), (1, -1.0)):
            if propagate_down[i]:
                alpha = self.dtype.type(sign * float(top[0].diff) / bottom[0].shape[0])
                scaled_copy(self.grad, alpha, bottom[i].diff.reshape(-1))

    def forward_gpu(self, bottom, top):
        n = bottom[0].count
        w_in = bottom[2].gpu_data.reshape(n) if len(bottom) > 2 else self.grad_gpu   # unread
        w_out = bottom[3].gpu_data.reshape(n) if len(bottom) > 3 else self.grad_gpu  # unread
        total = self.device.kernels("smooth_l1_loss").smooth_l1_forward(
            bottom[0].gpu_data.reshape(n), bottom[1].gpu_data.reshape(n), w_in, len(bottom) > 2,
            w_out, len(bottom) > 3, self.sigma2, self.grad_gpu)
        top[0].data[...] = total / bottom[0].shape[0]     # the loss comes down

    def backward_gpu(self, top, propagate_down, bottom):
        k = self.device.kernels("euclidean_loss")
        for i, sign in ((0, 1.0), (1, -1.0)):
            if propagate_down[i]:
                alpha = self.dtype.type(sign * float(top[0].cpu_diff) / bottom[0].shape[0])
                k.scaled_copy(self.grad_gpu, alpha,
                              bottom[i].mutable_gpu_diff.reshape(bottom[i].count))
