"""Clip: y = min(max(x, min), max) (Caffe's Clip; ReLU6 is min 0, max 6). Gradient: dx = dy
where min <= x <= max, else 0. Runs in place (it then keeps a one-byte mask of where the
gradient passes).

params: `min`, `max` (both required, min <= max).

    - {name: relu6, type: Clip, bottom: conv1, top: conv1, min: 0, max: 6}
"""
from dataclasses import dataclass

import numpy as np

from ..kernels.cpu.clip import clip_backward, clip_backward_inplace, clip_forward, \
    clip_forward_inplace
from ..layer import Layer
from ..registry import register_layer


@register_layer("Clip")
class Clip(Layer):
    @dataclass
    class Params:
        min: float
        max: float

        def __post_init__(self):
            if self.min > self.max:
                raise ValueError(f"Clip min {self.min} > max {self.max}")

    in_place = True

    def setup(self, bottom, top):
        self.lo, self.hi = self.dtype.type(self.p.min), self.dtype.type(self.p.max)
        self.mask = np.zeros(0, np.uint8)

    def reshape(self, bottom, top):
        top[0].reshape(bottom[0].shape)
        if top[0] is bottom[0] and self.mask.size != bottom[0].count:
            self.mask = np.zeros(bottom[0].count, np.uint8)
            if self.device is not None:               # the pass mask, kept on the device
                self.mask_gpu = self.device.zeros(bottom[0].count, np.uint8)

    def forward_cpu(self, bottom, top):
        x = bottom[0].data.reshape(-1)
        if top[0] is bottom[0]:
            clip_forward_inplace(x, self.lo, self.hi, self.mask)
        else:
            clip_forward(x, self.lo, self.hi, top[0].data.reshape(-1))

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        if top[0] is bottom[0]:
            clip_backward_inplace(self.mask, bottom[0].diff.reshape(-1))
        else:
            clip_backward(bottom[0].data.reshape(-1), top[0].diff.reshape(-1), self.lo, self.hi,
                          bottom[0].diff.reshape(-1))

    def forward_gpu(self, bottom, top):
        k = self.device.kernels("clip")
        n = bottom[0].count
        if top[0] is bottom[0]:
            k.clip_forward_inplace(top[0].mutable_gpu_data.reshape(n), self.lo, self.hi,
                                   self.mask_gpu)
        else:
            k.clip_forward(bottom[0].gpu_data.reshape(n), self.lo, self.hi,
                           top[0].mutable_gpu_data.reshape(n))

    def backward_gpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        k = self.device.kernels("clip")
        n = bottom[0].count
        if top[0] is bottom[0]:
            k.clip_backward_inplace(self.mask_gpu, bottom[0].mutable_gpu_diff.reshape(n))
        else:
            k.clip_backward(bottom[0].gpu_data.reshape(n), top[0].gpu_diff.reshape(n), self.lo,
                            self.hi, bottom[0].mutable_gpu_diff.reshape(n))

    def to_onnx(self, g, x, y, bottom, top):
        g.node("Clip", [x[0], g.const(f"{self.name}_min", np.array(self.p.min)),
                        g.const(f"{self.name}_max", np.array(self.p.max))], y, self.name)
