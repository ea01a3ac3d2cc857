"""Normalize: SSD's L2 normalization with a learned scale (conv4_3_norm in SSD300).

    norm = sqrt(sum x^2 + eps)    over (C, spatial) per sample when across_spatial (default),
                                  else over C per sample and position
    y = x / norm * scale          scale: one learnable value (channel_shared, default) or C
    dscale += sum dy x / norm;    dx = (g - u sum(g u)) / norm,  u = x / norm, g = dy scale,
                                  the sum over the same group as the norm

`scale_filler` defaults to constant 1 (SSD sets 20); eps 1e-10. The bottom is (N, C, ...).

    - {name: conv4_3_norm, type: Normalize, bottom: conv4_3, top: conv4_3_norm,
       across_spatial: false, channel_shared: false, scale_filler: {type: constant, value: 20}}
"""
from dataclasses import dataclass, field

import numpy as np

from ..fillers import FillerSpec
from ..kernels.cpu.normalize import normalize_backward, normalize_forward
from ..layer import Layer
from ..registry import register_layer


@register_layer("Normalize")
class Normalize(Layer):
    @dataclass
    class Params:
        across_spatial: bool = True
        scale_filler: FillerSpec = field(
            default_factory=lambda: FillerSpec("constant", value=1.0))
        channel_shared: bool = True
        eps: float = 1e-10

    def setup(self, bottom, top):
        x = bottom[0]
        if x.ndim < 2:
            raise self.shape_error(f"bottom '{x.name}' {list(x.shape)} must be (N, C, ...)")
        self.add_param((1,) if self.p.channel_shared else (x.shape[1],), self.p.scale_filler)
        self._norm = np.zeros(0, self.dtype)
        self._dot = np.zeros(0, self.dtype)
        self._none = np.zeros((0, 0, 0), self.dtype)

    def reshape(self, bottom, top):
        x = bottom[0]
        if x.ndim < 2 or (not self.p.channel_shared and x.shape[1] != self.blobs[0].count):
            raise self.shape_error(f"bottom '{x.name}' {list(x.shape)} must be (N, "
                                   f"{self.blobs[0].count}, ...) for the per-channel scale")
        n, c = x.shape[0], x.shape[1]
        s = x.count // (n * c) if n * c else 0
        self._view = (n, c, s)
        top[0].reshape(x.shape)
        size = n if self.p.across_spatial else n * s
        if self._norm.size != size:
            self._norm = np.zeros(size, self.dtype)
            if self.device is not None:               # the norms, on the device
                self._norm_gpu = self.device.zeros(size, self.dtype)
        if self._dot.size != s:
            self._dot = np.zeros(s, self.dtype)

    def forward_cpu(self, bottom, top):
        normalize_forward(bottom[0].data.reshape(self._view), self.blobs[0].data,
                          self.p.across_spatial, self.p.eps, top[0].data.reshape(self._view),
                          self._norm)

    def backward_cpu(self, top, propagate_down, bottom):
        want_x = bool(propagate_down[0])
        normalize_backward(bottom[0].data.reshape(self._view), top[0].diff.reshape(self._view),
                           self.blobs[0].data, self.p.across_spatial, self._norm, want_x,
                           bottom[0].diff.reshape(self._view) if want_x else self._none,
                           self.blobs[0].diff, self._dot)

    def forward_gpu(self, bottom, top):
        c = self.blobs[0].count
        self.device.kernels("normalize").normalize_forward(
            bottom[0].gpu_data.reshape(self._view), self.blobs[0].gpu_data.reshape(c),
            self.p.across_spatial, self.p.eps, top[0].mutable_gpu_data.reshape(self._view),
            self._norm_gpu)

    def backward_gpu(self, top, propagate_down, bottom):
        want_x = bool(propagate_down[0])
        c = self.blobs[0].count
        dy = top[0].gpu_diff.reshape(self._view)
        self.device.kernels("normalize").normalize_backward(
            bottom[0].gpu_data.reshape(self._view), dy, self.blobs[0].gpu_data.reshape(c),
            self.p.across_spatial, self._norm_gpu, want_x,
            bottom[0].mutable_gpu_diff.reshape(self._view) if want_x else dy,   # dy: unwritten
            self.blobs[0].mutable_gpu_diff.reshape(c), self._dot)
