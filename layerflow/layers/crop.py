"""Crop: cuts bottom[0] to the shape of bottom[1] on the axes from `axis` on (Caffe's layer).

Axes before `axis` keep bottom[0]'s size; on axis i >= `axis` the top takes bottom[1]'s size
and starts at `offset` (none: 0; one value: every cropped axis; else one per cropped axis).
    y = x[..., o_i : o_i + ref.shape[i], ...];  dx = dy inside that window, 0 elsewhere.
bottom[1] only gives the shape and gets no gradient.

    - {name: crop, type: Crop, bottom: [score, data], top: cropped, axis: 2, offset: [19]}
"""
from dataclasses import dataclass, field

import numpy as np

from ..layer import Layer
from ..registry import register_layer
from .concat import canonical_axis


@register_layer("Crop")
class Crop(Layer):
    @dataclass
    class Params:
        axis: int = 2
        offset: list[int] = field(default_factory=list)

        def __post_init__(self):
            if any(o < 0 for o in self.offset):
                raise ValueError(f"Crop 'offset' must be >= 0, got {self.offset}")

    num_bottom = 2

    def can_backprop(self, bottom_index):
        return bottom_index == 0

    def setup(self, bottom, top):
        self._key = None

    def reshape(self, bottom, top):
        key = (bottom[0].shape, bottom[1].shape)
        if key != self._key:
            self._plan(bottom)
            self._key = key
        top[0].reshape(self._shape)

    def forward_cpu(self, bottom, top):
        top[0].data[...] = bottom[0].data[self._index]

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            dx = bottom[0].diff
            dx[...] = 0
            dx[self._index] = top[0].diff

    def forward_gpu(self, bottom, top):
        if bottom[0].ndim > 4:                 # the copy kernel takes up to 4 axes
            return self.forward_cpu(bottom, top)
        self.device.kernels("copy").crop_forward(bottom[0].gpu_data, self._offsets(),
                                                 top[0].mutable_gpu_data)

    def backward_gpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        if bottom[0].ndim > 4:
            return self.backward_cpu(top, propagate_down, bottom)
        self.device.kernels("copy").crop_backward(top[0].gpu_diff, self._offsets(),
                                                  bottom[0].mutable_gpu_diff)

    def _offsets(self):
        return [s.start or 0 for s in self._index]

    def _plan(self, bottom):
        x, ref = bottom
        if x.ndim != ref.ndim:
            raise self.shape_error(f"bottom '{x.name}' {list(x.shape)} and reference "
                                   f"'{ref.name}' {list(ref.shape)} differ in number of axes")
        axis = canonical_axis(self, x, self.p.axis)
        n_crop = x.ndim - axis
        offsets = list(self.p.offset)
        if len(offsets) == 0:
            offsets = [0] * n_crop
        elif len(offsets) == 1:
            offsets = offsets * n_crop
        elif len(offsets) != n_crop:
            raise self.shape_error(f"{len(offsets)} offsets for the {n_crop} axes cropped "
                                   f"from axis {axis}")
        slices, shape = [], list(x.shape)
        for i in range(axis, x.ndim):
            o, size = offsets[i - axis], ref.shape[i]
            if o + size > x.shape[i]:
                raise self.shape_error(
                    f"axis {i}: offset {o} + reference size {size} (from '{ref.name}' "
                    f"{list(ref.shape)}) exceeds {x.shape[i]} of bottom '{x.name}' "
                    f"{list(x.shape)}")
            slices.append(slice(o, o + size))
            shape[i] = size
        self._index = (slice(None),) * axis + tuple(slices)
        self._shape = tuple(shape)

    def to_onnx(self, g, x, y, bottom, top):
        nd, p = bottom[0].ndim, self.p
        axis = p.axis if p.axis >= 0 else p.axis + nd
        starts, ends, axes = [], [], []
        for i in range(axis, nd):
            off = p.offset[0] if len(p.offset) == 1 else (p.offset[i - axis] if p.offset else 0)
            starts.append(off)
            ends.append(off + top[0].shape[i])
            axes.append(i)
        g.node("Slice", [x[0], g.const(f"{self.name}_starts", starts, np.int64),
                         g.const(f"{self.name}_ends", ends, np.int64),
                         g.const(f"{self.name}_axes", axes, np.int64)], y, self.name)
