"""Filter: keeps the samples whose selector is non-zero (Caffe's layer). Bottoms: K data
blobs (N, ...) and, last, the selector (N,) or (N, 1); tops: the K filtered blobs.

    y_k = x_k[selector != 0]       dx_k = dy_k in the kept rows, 0 elsewhere

The top's first axis follows the selector's data, so the selection is made in `reshape`
(as in Caffe); it may keep no sample. The selector gets no gradient.

    - {name: keep, type: Filter, bottom: [feat, label, is_valid], top: [feat_v, label_v]}
"""
from dataclasses import dataclass

import numpy as np

from ..kernels.cpu.filter import filter_backward, filter_forward, select_rows
from ..layer import Layer
from ..registry import register_layer


@register_layer("Filter")
class Filter(Layer):
    @dataclass
    class Params:
        pass

    num_bottom = (2, None)
    num_top = (1, None)

    def can_backprop(self, bottom_index):
        """Not to the selector (the last bottom, known once set up)."""
        return bottom_index != getattr(self, "_selector_index", -1)

    def setup(self, bottom, top):
        self._selector_index = len(bottom) - 1
        if len(top) != len(bottom) - 1:
            raise self.shape_error(f"{len(bottom) - 1} data bottom(s) need as many tops, got "
                                   f"{len(top)}")
        self._rows = np.zeros(0, np.int64)

    def reshape(self, bottom, top):
        sel = bottom[-1]
        if not (sel.ndim == 1 or (sel.ndim == 2 and sel.shape[1] == 1)):
            raise self.shape_error(f"selector '{sel.name}' must be (N,) or (N, 1), got "
                                   f"{list(sel.shape)}")
        n = sel.shape[0]
        for b in bottom[:-1]:
            if b.ndim < 1 or b.shape[0] != n:
                raise self.shape_error(f"bottom '{b.name}' {list(b.shape)} must have the "
                                       f"selector's {n} samples")
        if self._rows.size < n:
            self._rows = np.zeros(n, np.int64)
        self._kept = select_rows(sel.data.reshape(-1), self._rows)
        self._inner = []
        for b, t in zip(bottom[:-1], top):
            t.reshape((self._kept,) + tuple(b.shape[1:]))
            self._inner.append(int(np.prod(b.shape[1:], dtype=np.int64)))

    def forward_cpu(self, bottom, top):
        for b, t, inner in zip(bottom[:-1], top, self._inner):
            filter_forward(b.data.reshape(b.shape[0], inner), self._rows,
                           t.data.reshape(self._kept, inner))

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[-1]:
            raise self.shape_error(f"cannot propagate to the selector '{bottom[-1].name}'")
        for k, (b, t, inner) in enumerate(zip(bottom[:-1], top, self._inner)):
            if propagate_down[k]:
                filter_backward(t.diff.reshape(self._kept, inner), self._rows,
                                b.diff.reshape(b.shape[0], inner))

    def _rows_gpu(self):
        """The kept rows' indices on the device (chosen on the host in reshape: they size
        the tops), uploaded once per forward into a buffer kept between iterations."""
        if getattr(self, "_rows_dev", None) is None or self._rows_dev.size != self._rows.size:
            self._rows_dev = self.device.zeros(self._rows.size, np.int64)
        if self._rows.size:
            self.device.upload(self._rows, self._rows_dev)
        return self._rows_dev

    def forward_gpu(self, bottom, top):
        k = self.device.kernels("filter")
        rows = self._rows_gpu()
        for b, t, inner in zip(bottom[:-1], top, self._inner):
            k.filter_forward(b.gpu_data.reshape(b.shape[0], inner), rows,
                             t.mutable_gpu_data.reshape(self._kept, inner))

    def backward_gpu(self, top, propagate_down, bottom):
        if propagate_down[-1]:
            raise self.shape_error(f"cannot propagate to the selector '{bottom[-1].name}'")
        k = self.device.kernels("filter")
        for i, (b, t, inner) in enumerate(zip(bottom[:-1], top, self._inner)):
            if propagate_down[i]:
                k.filter_backward(t.gpu_diff.reshape(self._kept, inner), self._rows_dev,
                                  b.mutable_gpu_diff.reshape(b.shape[0], inner))
