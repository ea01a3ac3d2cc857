"""Concat: joins bottoms along `axis` (default 1, channels); all other axes must agree.

    y = [x_1, x_2, ..., x_K] along axis;  dx_k = the slice of dy that x_k filled.

Copies are strided block copies ((outer, C_k, inner) views), with no allocation.

    - {name: cat, type: Concat, bottom: [branch1, branch2], top: cat}
    - {name: cat, type: Concat, bottom: [a, b], top: ab, axis: 0}
"""
from dataclasses import dataclass

import numpy as np

from ..layer import Layer
from ..registry import register_layer


def canonical_axis(layer, blob, axis):
    if not -blob.ndim <= axis < blob.ndim:
        raise layer.shape_error(f"axis {axis} out of range for bottom '{blob.name}' of shape "
                                f"{list(blob.shape)}")
    return axis + blob.ndim if axis < 0 else axis


@register_layer("Concat")
class Concat(Layer):
    @dataclass
    class Params:
        axis: int = 1
        concat_dim: int | None = None     # Caffe's deprecated name for a non-negative axis

        def __post_init__(self):
            if self.concat_dim is not None:   # so that `axis` is the one truth for readers
                self.axis = self.concat_dim

    num_bottom = (1, None)

    def reshape(self, bottom, top):
        first = bottom[0]
        axis = canonical_axis(self, first, self.p.axis)
        total = 0
        for b in bottom:
            if b.ndim != first.ndim or any(b.shape[i] != first.shape[i]
                                           for i in range(first.ndim) if i != axis):
                raise self.shape_error(
                    f"bottoms must agree on every axis but {axis}: '{first.name}' is "
                    f"{list(first.shape)} and '{b.name}' is {list(b.shape)}")
            total += b.shape[axis]
        shape = first.shape[:axis] + (total,) + first.shape[axis + 1:]
        top[0].reshape(shape)
        self.outer = int(np.prod(shape[:axis], dtype=np.int64))
        self.inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
        self.total, self.axis = total, axis

    def forward_cpu(self, bottom, top):
        if len(bottom) == 1:
            top[0].data[...] = bottom[0].data
            return
        y = top[0].data.reshape(self.outer, self.total, self.inner)
        off = 0
        for b in bottom:
            c = b.shape[self.axis]
            y[:, off:off + c, :] = b.data.reshape(self.outer, c, self.inner)
            off += c

    def backward_cpu(self, top, propagate_down, bottom):
        dy = top[0].diff.reshape(self.outer, self.total, self.inner)
        off = 0
        for k, b in enumerate(bottom):
            c = b.shape[self.axis]
            if propagate_down[k]:
                b.diff.reshape(self.outer, c, self.inner)[...] = dy[:, off:off + c, :]
            off += c

    def forward_gpu(self, bottom, top):
        k = self.device.kernels("copy")
        y = top[0].mutable_gpu_data.reshape(self.outer, self.total, self.inner)
        off = 0
        for b in bottom:
            c = b.shape[self.axis]
            k.channel_copy(b.gpu_data.reshape(self.outer, c, self.inner), y, off, True)
            off += c

    def backward_gpu(self, top, propagate_down, bottom):
        k = self.device.kernels("copy")
        dy = top[0].gpu_diff.reshape(self.outer, self.total, self.inner)
        off = 0
        for j, b in enumerate(bottom):
            c = b.shape[self.axis]
            if propagate_down[j]:
                k.channel_copy(b.mutable_gpu_diff.reshape(self.outer, c, self.inner), dy, off,
                               False)
            off += c

    def to_onnx(self, g, x, y, bottom, top):
        g.node("Concat", x, y, self.name, axis=self.p.axis)
