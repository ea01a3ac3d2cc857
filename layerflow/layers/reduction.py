"""Reduction: sums every axis from `axis` on into one number per leading index (Caffe's
layer); the top has the shape bottom.shape[:axis] (a scalar for axis 0).

    SUM:   y = coeff sum_j x_j           dx_j = coeff dy
    ASUM:  y = coeff sum_j |x_j|         dx_j = coeff dy sign(x_j)   (0 at x = 0)
    SUMSQ: y = coeff sum_j x_j^2         dx_j = 2 coeff dy x_j
    MEAN:  y = coeff / D sum_j x_j       dx_j = coeff dy / D          (D values per row)

    - {name: total, type: Reduction, bottom: loss_map, top: loss, operation: MEAN, axis: 1}
"""
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..kernels.cpu.reduction import reduction_backward, reduction_forward
from ..layer import Layer
from ..registry import register_layer
from .concat import canonical_axis

OPS = {"SUM": 0, "ASUM": 1, "SUMSQ": 2, "MEAN": 3}


@register_layer("Reduction")
class Reduction(Layer):
    @dataclass
    class Params:
        operation: Literal["SUM", "ASUM", "SUMSQ", "MEAN"] = "SUM"
        axis: int = 0
        coeff: float = 1.0

    def reshape(self, bottom, top):
        x = bottom[0]
        axis = canonical_axis(self, x, self.p.axis) if x.ndim else 0
        outer = int(np.prod(x.shape[:axis], dtype=np.int64))
        dim = int(np.prod(x.shape[axis:], dtype=np.int64))
        top[0].reshape(tuple(x.shape[:axis]))
        self._view = (outer, dim)
        coeff = self.p.coeff / dim if self.p.operation == "MEAN" and dim else self.p.coeff
        self._coeff = self.dtype.type(coeff)

    def forward_cpu(self, bottom, top):
        reduction_forward(bottom[0].data.reshape(self._view), OPS[self.p.operation],
                          self._coeff, top[0].data.reshape(-1))

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            reduction_backward(bottom[0].data.reshape(self._view), top[0].diff.reshape(-1),
                               OPS[self.p.operation], self._coeff,
                               bottom[0].diff.reshape(self._view))

    def forward_gpu(self, bottom, top):
        self.device.kernels("reduction").reduction_forward(
            bottom[0].gpu_data.reshape(self._view), OPS[self.p.operation], self._coeff,
            top[0].mutable_gpu_data.reshape(self._view[0]))

    def backward_gpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            self.device.kernels("reduction").reduction_backward(
                bottom[0].gpu_data.reshape(self._view), top[0].gpu_diff.reshape(self._view[0]),
                OPS[self.p.operation], self._coeff, bottom[0].mutable_gpu_diff.reshape(self._view))
