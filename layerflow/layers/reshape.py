"""Reshape: gives the bottom a new shape without copying (Caffe's layer).

`shape` replaces the bottom's axes [axis, axis + num_axes) (default: all of them); in it,
0 copies the bottom's dimension at that position and one -1 is inferred from the count.
A negative `axis` counts from the end (-1: after the last axis). The top shares the bottom's
data and diff, so forward and backward are free (dx = dy).

    - {name: r, type: Reshape, bottom: ip1, top: r, shape: [0, -1, 4, 4]}
    - {name: r, type: Reshape, bottom: x, top: y, shape: [2, -1], axis: 1, num_axes: 1}
"""
from dataclasses import dataclass, field

import numpy as np

from ..config.schema import bounded
from ..registry import register_layer
from .flatten import ViewLayer


@register_layer("Reshape")
class Reshape(ViewLayer):
    @dataclass
    class Params:
        shape: list[int] = field(default_factory=list)
        axis: int = 0
        num_axes: int = bounded(-1, lo=-1)

        def __post_init__(self):
            if any(d < -1 for d in self.shape):
                raise ValueError(f"Reshape 'shape' dims must be >= -1, got {self.shape}")
            if self.shape.count(-1) > 1:
                raise ValueError(f"Reshape 'shape' may infer (-1) one dim only, "
                                 f"got {self.shape}")

    def _top_shape(self, x):
        shape, nd, p = x.shape, x.ndim, self.p
        start = p.axis if p.axis >= 0 else nd + p.axis + 1
        if not 0 <= start <= nd:
            raise self.shape_error(f"axis {p.axis} out of range for bottom '{x.name}' "
                                   f"{list(shape)}")
        end = nd if p.num_axes == -1 else start + p.num_axes
        if end > nd:
            raise self.shape_error(f"axis {start} + num_axes {p.num_axes} exceeds the {nd} "
                                   f"axes of bottom '{x.name}' {list(shape)}")
        dims = []
        for i, d in enumerate(p.shape):
            if d == 0:
                if start + i >= nd:
                    raise self.shape_error(f"shape {p.shape}: dim {i} is 0 (copy) but bottom "
                                           f"'{x.name}' {list(shape)} has no axis {start + i}")
                d = shape[start + i]
            dims.append(d)
        new = list(shape[:start]) + dims + list(shape[end:])
        known = int(np.prod([d for d in new if d != -1], dtype=np.int64))
        if -1 in new:
            if known == 0 or x.count % known:
                raise self.shape_error(f"cannot reshape bottom '{x.name}' {list(shape)} "
                                       f"({x.count} values) to {self._show(new)}")
            new[new.index(-1)] = x.count // known
        elif known != x.count:
            raise self.shape_error(f"cannot reshape bottom '{x.name}' {list(shape)} "
                                   f"({x.count} values) to {new} ({known} values)")
        return tuple(int(d) for d in new)

    @staticmethod
    def _show(dims):
        return "[" + ", ".join("?" if d == -1 else str(d) for d in dims) + "]"
