"""Flatten: merges the axes axis..end_axis into one (Caffe's defaults 1 and -1 give (N, C*H*W)).

    y = x viewed as shape[:axis] + [prod(shape[axis:end_axis + 1])] + shape[end_axis + 1:]

The top shares the bottom's data and diff (no copy, so forward and backward cost nothing);
as in Caffe, a layer that later runs in place on the top therefore also changes the bottom.

    - {name: flat, type: Flatten, bottom: pool2, top: flat}
"""
from dataclasses import dataclass

import numpy as np

from ..layer import Layer
from ..registry import register_layer


class ViewLayer(Layer):
    """A top that is a view of the bottom with another shape (Flatten, Reshape): the top
    shares the bottom's data and diff, re-shared only when the bottom's buffers change (the
    Net reshapes every forward, and a bottom that grew has new buffers). Subclasses give
    `_top_shape(bottom_blob)`."""

    def setup(self, bottom, top):
        self._key = None

    def reshape(self, bottom, top):
        x, y = bottom[0], top[0]
        if x.shape != self._key:
            self._shape = self._top_shape(x)
            self._key = x.shape
        y.reshape(self._shape)
        if not y.shares_data_with(x):
            y.share_data(x)
        if not y.shares_diff_with(x):
            y.share_diff(x)

    def forward_cpu(self, bottom, top):
        """y = x: nothing to do while the data are shared."""

    def backward_cpu(self, top, propagate_down, bottom):
        """dx = dy: nothing to do while the diffs are shared."""

    def forward_gpu(self, bottom, top):
        """y = x: nothing to do while the data are shared (host and device copies alike)."""

    def backward_gpu(self, top, propagate_down, bottom):
        """dx = dy: nothing to do while the diffs are shared."""

    def to_onnx(self, g, x, y, bottom, top):
        target = list(top[0].shape)
        if target and bottom[0].ndim and target[0] == bottom[0].shape[0]:
            target[0] = 0                           # copy the (free) batch size
        g.node("Reshape", [x[0], g.const(f"{self.name}_shape", target, np.int64)], y,
               self.name)


@register_layer("Flatten")
class Flatten(ViewLayer):
    @dataclass
    class Params:
        axis: int = 1
        end_axis: int = -1

    def _top_shape(self, x):
        shape = x.shape
        nd = len(shape)
        start = self.p.axis + nd if self.p.axis < 0 else self.p.axis
        end = self.p.end_axis + nd if self.p.end_axis < 0 else self.p.end_axis
        if not (0 <= start < nd and 0 <= end < nd) or end < start:
            raise self.shape_error(f"axis {self.p.axis} .. end_axis {self.p.end_axis} do not "
                                   f"name a range of the axes of bottom '{x.name}' "
                                   f"{list(shape)}")
        merged = int(np.prod(shape[start:end + 1], dtype=np.int64))
        return shape[:start] + (merged,) + shape[end + 1:]
