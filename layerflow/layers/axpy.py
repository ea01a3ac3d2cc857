"""Axpy: top = a * x + y with one scale per sample and channel (SENet's layer, which fuses
the squeeze-excitation rescale with the residual sum).

Bottoms: a (N, C) or (N, C, 1, 1), x (N, C, ...), y of x's shape.

    top[n, c, s] = a[n, c] x[n, c, s] + y[n, c, s]
    da[n, c] = sum_s dtop[n, c, s] x[n, c, s];   dx = a dtop;   dy = dtop

    - {name: axpy, type: Axpy, bottom: [se_gate, branch, shortcut], top: res}
"""
from dataclasses import dataclass

import numpy as np

from ..kernels.cpu.axpy import axpy_backward, axpy_forward
from ..layer import Layer
from ..registry import register_layer


@register_layer("Axpy")
class Axpy(Layer):
    @dataclass
    class Params:
        pass

    num_bottom = 3

    def setup(self, bottom, top):
        self._none = np.zeros((0, 0), self.dtype)

    def reshape(self, bottom, top):
        a, x, y = bottom
        if x.ndim < 2 or a.shape[:2] != x.shape[:2] or any(s != 1 for s in a.shape[2:]):
            raise self.shape_error(f"scale '{a.name}' {list(a.shape)} must be (N, C) or "
                                   f"(N, C, 1, 1) of '{x.name}' {list(x.shape)}")
        if y.shape != x.shape:
            raise self.shape_error(f"'{x.name}' {list(x.shape)} and '{y.name}' "
                                   f"{list(y.shape)} must have one shape")
        top[0].reshape(x.shape)
        rows = x.shape[0] * x.shape[1]
        self._rows = (rows, x.count // rows if rows else 0)

    def forward_cpu(self, bottom, top):
        a, x, y = bottom
        axpy_forward(a.data.reshape(-1), x.data.reshape(self._rows), y.data.reshape(self._rows),
                     top[0].data.reshape(self._rows))

    def backward_cpu(self, top, propagate_down, bottom):
        a, x, y = bottom
        if not any(propagate_down):
            return
        want_a, want_x, want_y = propagate_down
        axpy_backward(a.data.reshape(-1), x.data.reshape(self._rows),
                      top[0].diff.reshape(self._rows),
                      a.diff.reshape(-1) if want_a else self._none.reshape(0),
                      x.diff.reshape(self._rows) if want_x else self._none,
                      y.diff.reshape(self._rows) if want_y else self._none,
                      want_a, want_x, want_y)

    def forward_gpu(self, bottom, top):
        a, x, y = bottom
        self.device.kernels("axpy").axpy_forward(
            a.gpu_data.reshape(a.count), x.gpu_data.reshape(self._rows),
            y.gpu_data.reshape(self._rows), top[0].mutable_gpu_data.reshape(self._rows))

    def backward_gpu(self, top, propagate_down, bottom):
        a, x, y = bottom
        if not any(propagate_down):
            return
        want_a, want_x, want_y = propagate_down
        scale = a.gpu_data.reshape(a.count)
        dtop = top[0].gpu_diff.reshape(self._rows)
        self.device.kernels("axpy").axpy_backward(      # unwanted outputs: stand-ins, unwritten
            scale, x.gpu_data.reshape(self._rows), dtop,
            a.mutable_gpu_diff.reshape(a.count) if want_a else scale,
            x.mutable_gpu_diff.reshape(self._rows) if want_x else dtop,
            y.mutable_gpu_diff.reshape(self._rows) if want_y else dtop,
            want_a, want_x, want_y)
