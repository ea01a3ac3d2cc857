"""ArgMax: the indices (and optionally the values) of the top_k largest entries (Caffe's
layer). No gradient.

Without `axis`, each sample's count(1) values are ranked and the top has shape
(N, 1, top_k) padded with 1s to the bottom's number of axes (at least 3): indices, or with
`out_max_val: true` (N, 2, top_k, ...): indices in channel 0, values in channel 1.
With `axis`, the ranking runs along that axis and the top is the bottom's shape with
shape[axis] = top_k, holding indices, or values when `out_max_val` is set.
Ties rank the larger index first (Caffe's partial_sort over (value, index) pairs).

    - {name: argmax, type: ArgMax, bottom: prob, top: label}
    - {name: top5, type: ArgMax, bottom: prob, top: top5, top_k: 5, axis: 1}
"""
from dataclasses import dataclass

import numpy as np

from ..config.schema import bounded
from ..kernels.cpu.arg_max import arg_max
from ..layer import Layer
from ..registry import register_layer
from .concat import canonical_axis


@register_layer("ArgMax")
class ArgMax(Layer):
    @dataclass
    class Params:
        out_max_val: bool = False
        top_k: int = bounded(1, lo=1)
        axis: int | None = None

    def can_backprop(self, bottom_index):
        return False

    def reshape(self, bottom, top):
        x = bottom[0]
        if self.p.axis is not None:
            axis = canonical_axis(self, x, self.p.axis)
            dim = x.shape[axis]
            outer = int(np.prod(x.shape[:axis], dtype=np.int64))
            inner = int(np.prod(x.shape[axis + 1:], dtype=np.int64))
            shape = list(x.shape)
            shape[axis] = self.p.top_k
            self._view = (outer, dim, inner)
            self._out = (outer, self.p.top_k, inner)
        else:
            if x.ndim < 1:
                raise self.shape_error(f"bottom '{x.name}' has no axes")
            n = x.shape[0]
            dim = x.count // n if n else 0
            shape = [1] * max(3, x.ndim)
            shape[0], shape[2] = n, self.p.top_k
            if self.p.out_max_val:
                shape[1] = 2
            self._view = (n, dim, 1)
            self._out = (n, shape[1], self.p.top_k)
        if dim < self.p.top_k:
            raise self.shape_error(f"top_k {self.p.top_k} is more than the {dim} values "
                                   f"ranked in bottom '{x.name}' {list(x.shape)}")
        top[0].reshape(tuple(shape))

    def forward_cpu(self, bottom, top):
        arg_max(bottom[0].data.reshape(self._view), self.p.top_k, self.p.out_max_val,
                self.p.axis is not None, top[0].data.reshape(self._out))

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            raise NotImplementedError(f"layer '{self.name}' (ArgMax) has no gradient")

    def forward_gpu(self, bottom, top):
        self.device.kernels("arg_max").arg_max(
            bottom[0].gpu_data.reshape(self._view), self.p.top_k, self.p.out_max_val,
            self.p.axis is not None, top[0].mutable_gpu_data.reshape(self._out))

    def backward_gpu(self, top, propagate_down, bottom):
        self.backward_cpu(top, propagate_down, bottom)      # no gradient: refuses or nothing
