"""LRN: local response normalization, Caffe's formulas.

ACROSS_CHANNELS (default), window of `local_size` (odd) channels centred on c:
    y = x * (k + alpha / local_size * sum_{window} x_j^2) ^ -beta
WITHIN_CHANNEL, a local_size x local_size spatial window with zero padding (Caffe builds it
from AVE pooling, which divides by local_size^2, and a power layer with shift 1, so `k` is
not used there and must stay 1):
    y = x * (1 + alpha / local_size^2 * sum_{window} x_j^2) ^ -beta
Gradient, with s the bracket above and m = local_size (across) or local_size^2 (within):
    dx_i = dy_i s_i^-beta - (2 alpha beta / m) x_i sum_{j : i in window(j)} dy_j y_j / s_j
PyTorch's local_response_norm uses the same alpha / local_size scaling as Caffe across
channels.

    - {name: norm1, type: LRN, bottom: pool1, top: norm1, local_size: 5, alpha: 0.0001,
       beta: 0.75}
"""
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..config.schema import bounded
from ..kernels.cpu.lrn import (lrn_across_backward, lrn_across_forward, lrn_within_backward,
                               lrn_within_forward)
from ..layer import Layer
from ..registry import register_layer


@register_layer("LRN")
class LRN(Layer):
    @dataclass
    class Params:
        local_size: int = bounded(5, lo=1)
        alpha: float = 1.0
        beta: float = 0.75
        k: float = 1.0
        norm_region: Literal["ACROSS_CHANNELS", "WITHIN_CHANNEL"] = "ACROSS_CHANNELS"

        def __post_init__(self):
            if self.local_size % 2 == 0:
                raise ValueError(f"LRN needs an odd 'local_size', got {self.local_size}")
            if self.norm_region == "WITHIN_CHANNEL" and self.k != 1.0:
                raise ValueError("LRN WITHIN_CHANNEL computes 1 + alpha/local_size^2 * sum "
                                 f"(as Caffe); 'k' is used only ACROSS_CHANNELS, got k={self.k}")

    def setup(self, bottom, top):
        self._shape = None

    def reshape(self, bottom, top):
        shape = bottom[0].shape
        if len(shape) != 4:
            raise self.shape_error(f"bottom '{bottom[0].name}' must be 4-D (N, C, H, W), "
                                   f"got shape {list(shape)}")
        top[0].reshape(shape)
        if shape != self._shape:
            self._shape = shape
            n, c, h, w = shape
            self._view = (n, c, h * w) if self.p.norm_region == "ACROSS_CHANNELS" \
                else (n * c, h, w)
            count = bottom[0].count
            self._buf = np.zeros((4 if self.p.norm_region == "WITHIN_CHANNEL" else 3, count),
                                 self.dtype)
            self.scale, self.pw = (self._buf[i].reshape(self._view) for i in range(2))
            self._scratch = [self._buf[i].reshape(self._view) for i in range(2, len(self._buf))]
            if self.device is not None:      # the same buffers on the device
                rows = len(self._buf)
                buf = self.device.zeros(rows * count, self.dtype)
                self._dev = [buf[i * count:(i + 1) * count].reshape(self._view)
                             for i in range(rows)]

    def forward_cpu(self, bottom, top):
        x = bottom[0].data.reshape(self._view)
        y = top[0].data.reshape(self._view)
        p, t = self.p, self.dtype.type       # scalars in the data's dtype
        if p.norm_region == "ACROSS_CHANNELS":
            lrn_across_forward(x, p.local_size, t(p.alpha / p.local_size), t(p.beta), t(p.k),
                               t(1), self.scale, self.pw, y)
        else:
            lrn_within_forward(x, p.local_size, t(p.alpha / p.local_size ** 2), t(p.beta),
                               t(1), self._scratch[1], self.scale, self.pw, y)

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        x = bottom[0].data.reshape(self._view)
        dy = top[0].diff.reshape(self._view)
        dx = bottom[0].diff.reshape(self._view)
        p, t = self.p, self.dtype.type
        if p.norm_region == "ACROSS_CHANNELS":
            lrn_across_backward(x, dy, self.scale, self.pw, p.local_size,
                                t(2.0 * p.alpha * p.beta / p.local_size), self._scratch[0], dx)
        else:
            lrn_within_backward(x, dy, self.scale, self.pw, p.local_size,
                                t(2.0 * p.alpha * p.beta / p.local_size ** 2),
                                self._scratch[0], self._scratch[1], dx)

    def forward_gpu(self, bottom, top):
        k, (scale, pw, *scratch) = self.device.kernels("lrn"), self._dev
        x = bottom[0].gpu_data.reshape(self._view)
        y = top[0].mutable_gpu_data.reshape(self._view)
        p, t = self.p, self.dtype.type
        if p.norm_region == "ACROSS_CHANNELS":
            k.lrn_across_forward(x, p.local_size, t(p.alpha / p.local_size), t(p.beta), t(p.k),
                                 t(1), scale, pw, y)
        else:
            k.lrn_within_forward(x, p.local_size, t(p.alpha / p.local_size ** 2), t(p.beta),
                                 t(1), scratch[1], scale, pw, y)

    def backward_gpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        k, (scale, pw, *scratch) = self.device.kernels("lrn"), self._dev
        x = bottom[0].gpu_data.reshape(self._view)
        dy = top[0].gpu_diff.reshape(self._view)
        dx = bottom[0].mutable_gpu_diff.reshape(self._view)
        p, t = self.p, self.dtype.type
        if p.norm_region == "ACROSS_CHANNELS":
            k.lrn_across_backward(x, dy, scale, pw, p.local_size,
                                  t(2.0 * p.alpha * p.beta / p.local_size), scratch[0], dx)
        else:
            k.lrn_within_backward(x, dy, scale, pw, p.local_size,
                                  t(2.0 * p.alpha * p.beta / p.local_size ** 2), scratch[0],
                                  scratch[1], dx)

    def to_onnx(self, g, x, y, bottom, top):
        if self.p.norm_region != "ACROSS_CHANNELS":
            raise g.error(self, "LRN WITHIN_CHANNEL has no ONNX operator")
        g.node("LRN", x, y, self.name, size=self.p.local_size, alpha=float(self.p.alpha),
               beta=float(self.p.beta), bias=float(self.p.k))
