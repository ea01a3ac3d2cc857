"""Slice: cuts the bottom along `axis` (default 1) into the tops, at `slice_point`s
(len(top) - 1 increasing indices), or into equal parts when none are given.

    y_k = x[..., p_{k-1}:p_k, ...] along axis;  dx = [dy_1, ..., dy_K] along axis.

    - {name: halves, type: Slice, bottom: data, top: [a, b]}
    - {name: split3, type: Slice, bottom: x, top: [x1, x2, x3], axis: 1, slice_point: [1, 3]}
"""
from dataclasses import dataclass, field

import numpy as np

from ..layer import Layer
from ..registry import register_layer
from .concat import canonical_axis


@register_layer("Slice")
class Slice(Layer):
    @dataclass
    class Params:
        axis: int = 1
        slice_point: list[int] = field(default_factory=list)
        slice_dim: int | None = None      # Caffe's deprecated name for a non-negative axis

        def __post_init__(self):
            if self.slice_dim is not None:    # so that `axis` is the one truth for readers
                self.axis = self.slice_dim
            if any(b <= a for a, b in zip(self.slice_point, self.slice_point[1:])):
                raise ValueError(f"'slice_point' must increase, got {self.slice_point}")

    num_top = (1, None)

    def setup(self, bottom, top):
        if self.p.slice_point and len(self.p.slice_point) != len(top) - 1:
            raise self.shape_error(f"{len(self.p.slice_point)} slice_point value(s) for "
                                   f"{len(top)} tops (need {len(top) - 1})")

    def reshape(self, bottom, top):
        x = bottom[0]
        axis = canonical_axis(self, x, self.p.axis)
        n = x.shape[axis]
        if self.p.slice_point:
            points = list(self.p.slice_point)
            if points[0] <= 0 or points[-1] >= n:
                raise self.shape_error(f"slice_point {points} must lie inside (0, {n}) for "
                                       f"axis {axis} of bottom '{x.name}' {list(x.shape)}")
        else:
            if n % len(top):
                raise self.shape_error(f"axis {axis} of bottom '{x.name}' {list(x.shape)} "
                                       f"has {n} entries, not divisible into {len(top)} tops")
            points = [n // len(top) * k for k in range(1, len(top))]
        self.bounds = list(zip([0] + points, points + [n]))
        for t, (a, b) in zip(top, self.bounds):
            t.reshape(x.shape[:axis] + (b - a,) + x.shape[axis + 1:])
        self.outer = int(np.prod(x.shape[:axis], dtype=np.int64))
        self.inner = int(np.prod(x.shape[axis + 1:], dtype=np.int64))
        self.n = n

    def forward_cpu(self, bottom, top):
        x = bottom[0].data.reshape(self.outer, self.n, self.inner)
        for t, (a, b) in zip(top, self.bounds):
            t.data.reshape(self.outer, b - a, self.inner)[...] = x[:, a:b, :]

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        dx = bottom[0].diff.reshape(self.outer, self.n, self.inner)
        for t, (a, b) in zip(top, self.bounds):
            dx[:, a:b, :] = t.diff.reshape(self.outer, b - a, self.inner)

    def forward_gpu(self, bottom, top):
        k = self.device.kernels("copy")
        x = bottom[0].gpu_data.reshape(self.outer, self.n, self.inner)
        for t, (a, b) in zip(top, self.bounds):
            k.channel_copy(t.mutable_gpu_data.reshape(self.outer, b - a, self.inner), x, a, False)

    def backward_gpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        k = self.device.kernels("copy")
        dx = bottom[0].mutable_gpu_diff.reshape(self.outer, self.n, self.inner)
        for t, (a, b) in zip(top, self.bounds):
            k.channel_copy(t.gpu_diff.reshape(self.outer, b - a, self.inner), dx, a, True)

    def to_onnx(self, g, x, y, bottom, top):
        axis = self.p.axis if self.p.axis >= 0 else self.p.axis + bottom[0].ndim
        sizes = [t.shape[axis] for t in top]
        g.node("Split", [x[0], g.const(f"{self.name}_split", sizes, np.int64)], y, self.name,
               axis=axis)
