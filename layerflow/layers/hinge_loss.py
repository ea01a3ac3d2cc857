"""HingeLoss: the one-vs-all hinge loss of N score vectors (Caffe's; an SVM objective).

With x of shape (N, ...) viewed as (N, D) and labels l (N values in [0, D)):
m[i, j] = max(0, 1 - x[i, l_i]) at the label, max(0, 1 + x[i, j]) elsewhere;
`norm: L1` (default): loss = sum m / N, dx = loss_weight / N * (m > 0) * (-1 at the label,
+1 elsewhere); `norm: L2`: loss = sum m^2 / N, dx = loss_weight / N * 2 m * (-1 / +1).
Labels get no gradient.

    - {name: loss, type: HingeLoss, bottom: [ip2, label], top: loss, norm: L2}
"""
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..kernels.cpu.hinge_loss import hinge_backward, hinge_forward
from ..layer import Layer
from ..registry import register_layer
from .softmax_with_loss import label_error


@register_layer("HingeLoss")
class HingeLoss(Layer):
    @dataclass
    class Params:
        norm: Literal["L1", "L2"] = "L1"

    num_bottom = 2
    is_loss = True

    def can_backprop(self, bottom_index):
        return bottom_index == 0

    def setup(self, bottom, top):
        self.label_name = bottom[1].name
        self.margins = np.zeros((0, 0), self.dtype)

    def reshape(self, bottom, top):
        x, labels = bottom
        if not x.shape or labels.count != x.shape[0]:
            raise self.shape_error(f"label blob '{labels.name}' of shape {list(labels.shape)} "
                                   f"must hold one label per item of scores '{x.name}' "
                                   f"{list(x.shape)}")
        self.dims = (x.shape[0], x.count // max(x.shape[0], 1))
        if self.margins.shape != self.dims:
            self.margins = np.zeros(self.dims, self.dtype)
            if self.device is not None:               # the margins, kept on the device
                self.margins_gpu = self.device.zeros(x.count, self.dtype).reshape(self.dims)
        top[0].reshape(())

    def forward_cpu(self, bottom, top):
        l1, l2, bad = hinge_forward(bottom[0].data.reshape(self.dims), bottom[1].data.reshape(-1),
                                    self.margins)
        if bad >= 0:
            raise label_error(self, bottom[1].data, bad, self.dims[1], ignorable=False)
        top[0].data[...] = (l2 if self.p.norm == "L2" else l1) / self.dims[0]

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            hinge_backward(self.margins, bottom[1].data.reshape(-1),
                           self.dtype.type(float(top[0].diff) / self.dims[0]),
                           self.p.norm == "L2", bottom[0].diff.reshape(self.dims))

    def forward_gpu(self, bottom, top):
        l1, l2, bad = self.device.kernels("hinge_loss").hinge_forward(
            bottom[0].gpu_data.reshape(self.dims), bottom[1].gpu_data.reshape(bottom[1].count),
            self.margins_gpu)
        if bad >= 0:
            raise label_error(self, bottom[1].cpu_data, bad, self.dims[1], ignorable=False)
        top[0].data[...] = (l2 if self.p.norm == "L2" else l1) / self.dims[0]

    def backward_gpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            self.device.kernels("hinge_loss").hinge_backward(
                self.margins_gpu, bottom[1].gpu_data.reshape(bottom[1].count),
                self.dtype.type(float(top[0].cpu_diff) / self.dims[0]), self.p.norm == "L2",
                bottom[0].mutable_gpu_diff.reshape(self.dims))
