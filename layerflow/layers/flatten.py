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


def share_as(top, bottom, shape):
    """Make `top` a view of `bottom`'s data and diff with `shape` (re-done only when stale:
    the Net reshapes every forward, and a bottom that grew has new buffers)."""
    top.reshape(shape)
    if not top.shares_data_with(bottom):
        top.share_data(bottom)
    if not top.shares_diff_with(bottom):
        top.share_diff(bottom)


def view_forward(bottom, top):
    """y = x; nothing to do while the data are shared."""
    if not top.shares_data_with(bottom):
        top.data.reshape(-1)[...] = bottom.data.reshape(-1)


def view_backward(top, bottom):
    """dx = dy; nothing to do while the diffs are shared."""
    if not top.shares_diff_with(bottom):
        bottom.diff.reshape(-1)[...] = top.diff.reshape(-1)


@register_layer("Flatten")
class Flatten(Layer):
    @dataclass
    class Params:
        axis: int = 1
        end_axis: int = -1

    def setup(self, bottom, top):
        self._key = None

    def reshape(self, bottom, top):
        if bottom[0].shape != self._key:
            self._shape = self._top_shape(bottom[0])
            self._key = bottom[0].shape
        share_as(top[0], bottom[0], self._shape)

    def forward_cpu(self, bottom, top):
        view_forward(bottom[0], top[0])

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            view_backward(top[0], bottom[0])

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
