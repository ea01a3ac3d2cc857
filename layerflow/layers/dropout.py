"""Dropout: in TRAIN, y = x * m / (1 - ratio) with m ~ Bernoulli(1 - ratio) per element
(inverted scaling, so TEST is the identity); dx = dy * m / (1 - ratio). Runs in place.
In CUDA mode the uniforms come from a counter hash of (a seed drawn from the layer's
generator each forward, element index), made on the device: reproducible from the seed,
though not the CPU mode's numbers.

    - {name: drop1, type: Dropout, bottom: ip1, top: ip1, dropout_ratio: 0.5}
"""
from dataclasses import dataclass

import numpy as np

from ..config.schema import bounded
from ..kernels.cpu.dropout import dropout_backward, dropout_forward
from ..layer import Layer
from ..registry import register_layer


@register_layer("Dropout")
class Dropout(Layer):
    @dataclass
    class Params:
        dropout_ratio: float = bounded(0.5, lo=0.0, hi=1.0)

        def __post_init__(self):
            if not 0.0 <= self.dropout_ratio < 1.0:
                raise ValueError(f"dropout_ratio must be in [0, 1), got {self.dropout_ratio}")

    in_place = True

    def reshape(self, bottom, top):
        top[0].reshape(bottom[0].shape)
        if not hasattr(self, "u") or self.u.size != bottom[0].count:
            self.u = np.zeros(bottom[0].count, self.dtype)
            if self.device is not None:    # GPU mode draws u on the device (counter hash)
                self.u_gpu = self.device.zeros(bottom[0].count, self.dtype)

    def forward_cpu(self, bottom, top):
        x, y = bottom[0].data.reshape(-1), top[0].data.reshape(-1)
        if self.phase != "TRAIN":
            if y is not x and not np.shares_memory(x, y):
                y[...] = x
            return
        self.rng.random(dtype=self.u.dtype, out=self.u)
        ratio = self.p.dropout_ratio
        dropout_forward(x, self.u, ratio, 1.0 / (1.0 - ratio), y)

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        dy, dx = top[0].diff.reshape(-1), bottom[0].diff.reshape(-1)
        if self.phase != "TRAIN":
            dx[...] = dy
            return
        ratio = self.p.dropout_ratio
        dropout_backward(dy, self.u, ratio, 1.0 / (1.0 - ratio), dx)

    def forward_gpu(self, bottom, top):
        n = bottom[0].count
        if self.phase != "TRAIN":
            if top[0] is not bottom[0]:
                self.device.kernels("eltwise").scale_into(
                    bottom[0].gpu_data.reshape(n), 1.0, top[0].mutable_gpu_data.reshape(n))
            return
        k = self.device.kernels("dropout")
        k.dropout_uniform(int(self.rng.integers(0, 2 ** 63)), self.u_gpu)
        x = bottom[0].gpu_data.reshape(n)
        ratio = self.p.dropout_ratio
        k.dropout_forward(x, self.u_gpu, ratio, 1.0 / (1.0 - ratio),
                          top[0].mutable_gpu_data.reshape(n))

    def backward_gpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        n = top[0].count
        dy, dx = top[0].gpu_diff.reshape(n), bottom[0].mutable_gpu_diff.reshape(n)
        if self.phase != "TRAIN":
            self.device.kernels("eltwise").scale_into(dy, 1.0, dx)
            return
        ratio = self.p.dropout_ratio
        self.device.kernels("dropout").dropout_backward(dy, self.u_gpu, ratio,
                                                        1.0 / (1.0 - ratio), dx)

    def to_onnx(self, g, x, y, bottom, top):
        g.node("Identity", x, y, self.name)          # deploy nets do not drop
