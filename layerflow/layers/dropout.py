"""Dropout: in TRAIN, y = x * m / (1 - ratio) with m ~ Bernoulli(1 - ratio) per element
(inverted scaling, so TEST is the identity); dx = dy * m / (1 - ratio). Runs in place.

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

    def to_onnx(self, g, x, y, bottom, top):
        g.node("Identity", x, y, self.name)          # deploy nets do not drop
