"""LayerNorm: normalizes each sample over the trailing axes from `axis` (PyTorch's
F.layer_norm with normalized_shape = shape[axis:]; not in Caffe's master).

    xhat = (x - mean) / sqrt(var + eps)      mean, biased var over shape[axis:]
    y = xhat * w + b                         w, b of shape shape[axis:] (elementwise_affine)
    dx = rstd (g - mean(g) - xhat mean(g xhat)),  g = dy w,  rstd = 1 / sqrt(var + eps)
    dw += sum over the leading axes of dy xhat;   db += sum of dy

`axis` defaults to -1 (the last axis, as in transformers); `axis: 1` normalizes each NCHW
sample over C, H and W. w starts at 1 and b at 0.

    - {name: ln1, type: LayerNorm, bottom: h, top: h_norm}
    - {name: ln2, type: LayerNorm, bottom: feat, top: feat_norm, axis: 1, eps: 1.0e-6}
"""
from dataclasses import dataclass

import numpy as np

from ..fillers import FillerSpec
from ..kernels.cpu.layer_norm import layer_norm_backward, layer_norm_forward
from ..layer import Layer
from ..registry import register_layer
from .concat import canonical_axis


@register_layer("LayerNorm")
class LayerNorm(Layer):
    @dataclass
    class Params:
        axis: int = -1
        eps: float = 1e-5
        elementwise_affine: bool = True

    def setup(self, bottom, top):
        x = bottom[0]
        self.axis = canonical_axis(self, x, self.p.axis)
        self.norm_shape = tuple(x.shape[self.axis:])
        if self.p.elementwise_affine:
            self.add_param(self.norm_shape, FillerSpec("constant", value=1.0))
            self.add_param(self.norm_shape, FillerSpec("constant", value=0.0))
        dim = int(np.prod(self.norm_shape, dtype=np.int64))
        self._unit = np.zeros(dim, self.dtype)             # w, b and their diffs without affine
        self._mean = np.zeros(0, self.dtype)
        self._rstd = np.zeros(0, self.dtype)
        self._none = np.zeros((0, 0), self.dtype)
        self._eps = self.dtype.type(self.p.eps)        # keeps float32 sums in float32

    def reshape(self, bottom, top):
        x = bottom[0]
        if x.ndim != self.axis + len(self.norm_shape) or x.shape[self.axis:] != self.norm_shape:
            raise self.shape_error(f"bottom '{x.name}' {list(x.shape)} must end in "
                                   f"{list(self.norm_shape)} (the shape normalized over)")
        dim = self._unit.size
        rows = x.count // dim if dim else 0
        self._view = (rows, dim)
        top[0].reshape(x.shape)
        if self._mean.size != rows:
            self._mean = np.zeros(rows, self.dtype)
            self._rstd = np.zeros(rows, self.dtype)
            if self.device is not None:               # the row statistics, on the device
                self._mean_gpu = self.device.zeros(rows, self.dtype)
                self._rstd_gpu = self.device.zeros(rows, self.dtype)
                self._unit_gpu = self.device.zeros(dim, self.dtype)   # w, b stand-ins, unread

    def _wb(self, diff=False):
        if not self.p.elementwise_affine:
            return self._unit, self._unit
        w, b = self.blobs
        return ((w.diff, b.diff) if diff else (w.data, b.data))

    def forward_cpu(self, bottom, top):
        w, b = self._wb()
        layer_norm_forward(bottom[0].data.reshape(self._view), w.reshape(-1), b.reshape(-1),
                           self.p.elementwise_affine, self._eps,
                           top[0].data.reshape(self._view), self._mean, self._rstd)

    def backward_cpu(self, top, propagate_down, bottom):
        want_x = bool(propagate_down[0])
        if not want_x and not self.p.elementwise_affine:
            return
        w, _ = self._wb()
        dw, db = self._wb(diff=True)
        layer_norm_backward(bottom[0].data.reshape(self._view), top[0].diff.reshape(self._view),
                            w.reshape(-1), self.p.elementwise_affine, self._mean, self._rstd,
                            want_x, bottom[0].diff.reshape(self._view) if want_x else self._none,
                            dw.reshape(-1), db.reshape(-1))

    def _wb_gpu(self, diff=False):
        if not self.p.elementwise_affine:
            return self._unit_gpu, self._unit_gpu
        w, b = self.blobs
        if diff:
            return w.mutable_gpu_diff.reshape(w.count), b.mutable_gpu_diff.reshape(b.count)
        return w.gpu_data.reshape(w.count), b.gpu_data.reshape(b.count)

    def forward_gpu(self, bottom, top):
        w, b = self._wb_gpu()
        self.device.kernels("layer_norm").layer_norm_forward(
            bottom[0].gpu_data.reshape(self._view), w, b, self.p.elementwise_affine, self._eps,
            top[0].mutable_gpu_data.reshape(self._view), self._mean_gpu, self._rstd_gpu)

    def backward_gpu(self, top, propagate_down, bottom):
        want_x = bool(propagate_down[0])
        if not want_x and not self.p.elementwise_affine:
            return
        w, _ = self._wb_gpu()
        dw, db = self._wb_gpu(diff=True)
        dy = top[0].gpu_diff.reshape(self._view)
        self.device.kernels("layer_norm").layer_norm_backward(
            bottom[0].gpu_data.reshape(self._view), dy, w, self.p.elementwise_affine,
            self._mean_gpu, self._rstd_gpu, want_x,
            bottom[0].mutable_gpu_diff.reshape(self._view) if want_x else dy, dw, db)
