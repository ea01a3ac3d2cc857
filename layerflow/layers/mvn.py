"""MVN: mean-variance normalization (Caffe's layer), per sample and channel over the spatial
axes, or per sample over channels and space with `across_channels: true`.

    y = (x - mean) / (std + eps)       (std biased; y = x - mean if not normalize_variance)
    dx = (dy - mean(dy) - y mean(dy y) (std + eps) / std) / (std + eps)   (dx = dy - mean(dy))

Caffe adds eps to the standard deviation (not the variance) and its gradient drops the
factor (std + eps) / std; here the gradient is the exact one of the forward (they differ by
about eps relative).

    - {name: mvn, type: MVN, bottom: conv1, top: conv1_mvn}
    - {name: mvn2, type: MVN, bottom: x, top: y, across_channels: true, normalize_variance: false}
"""
from dataclasses import dataclass

import numpy as np

from ..kernels.cpu.mvn import mvn_backward, mvn_forward
from ..layer import Layer
from ..registry import register_layer


@register_layer("MVN")
class MVN(Layer):
    @dataclass
    class Params:
        normalize_variance: bool = True
        across_channels: bool = False
        eps: float = 1e-9

    def setup(self, bottom, top):
        self._std = np.zeros(0, self.dtype)
        self._inv = np.zeros(0, self.dtype)

    def reshape(self, bottom, top):
        x = bottom[0]
        if x.ndim < 2 or x.count == 0:
            raise self.shape_error(f"bottom '{x.name}' {list(x.shape)} must be (N, C, ...) "
                                   "and not empty")
        rows = x.shape[0] if self.p.across_channels else x.shape[0] * x.shape[1]
        self._view = (rows, x.count // rows)
        top[0].reshape(x.shape)
        if self._std.size != rows:
            self._std = np.zeros(rows, self.dtype)
            self._inv = np.zeros(rows, self.dtype)
            if self.device is not None:               # the row statistics, on the device
                self._std_gpu = self.device.zeros(rows, self.dtype)
                self._inv_gpu = self.device.zeros(rows, self.dtype)

    def forward_cpu(self, bottom, top):
        mvn_forward(bottom[0].data.reshape(self._view), self.p.normalize_variance, self.p.eps,
                    top[0].data.reshape(self._view), self._std, self._inv)

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            mvn_backward(top[0].data.reshape(self._view), top[0].diff.reshape(self._view),
                         self.p.normalize_variance, self._std, self._inv,
                         bottom[0].diff.reshape(self._view))

    def forward_gpu(self, bottom, top):
        self.device.kernels("mvn").mvn_forward(
            bottom[0].gpu_data.reshape(self._view), self.p.normalize_variance, self.p.eps,
            top[0].mutable_gpu_data.reshape(self._view), self._std_gpu, self._inv_gpu)

    def backward_gpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            self.device.kernels("mvn").mvn_backward(
                top[0].gpu_data.reshape(self._view), top[0].gpu_diff.reshape(self._view),
                self.p.normalize_variance, self._std_gpu, self._inv_gpu,
                bottom[0].mutable_gpu_diff.reshape(self._view))
