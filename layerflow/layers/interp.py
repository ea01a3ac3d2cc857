"""Interp: bilinear resize with aligned corners (PSPNet's / DeepLab's Caffe layer; PyTorch's
F.interpolate(mode="bilinear", align_corners=True) of the cropped input).

The input is first cropped by pad_beg (top/left) and pad_end (bottom/right), both <= 0, to
H_eff = H + pad_beg + pad_end (likewise W). The output size, in Caffe's order of rules:
a second bottom's H, W; `shrink_factor` alone: (H_eff - 1) / shrink + 1; `zoom_factor`
alone: H_eff + (H_eff - 1)(zoom - 1); `height` and `width`; both factors: shrink, then zoom.

    src = r (H_eff - 1) / (H_out - 1)  (0 for H_out = 1), i = floor(src), l = src - i
    y[r, s] = bilinear blend of x at rows i, i + 1 (clamped) and columns likewise
    dx = each dy spread back over its four taps with the same weights (0 in the crop)

    - {name: up, type: Interp, bottom: conv6, top: conv6_interp, zoom_factor: 8}
    - {name: fit, type: Interp, bottom: [score, data], top: score_full}
"""
from dataclasses import dataclass

import numpy as np

from ..kernels.cpu.interp import align_corners_table, resize_backward, resize_forward
from ..layer import Layer
from ..registry import register_layer


def axis_tables(n, dtype):
    """(i0, i1, w0, w1) for n outputs, the weights in the data's dtype."""
    return np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, dtype), np.zeros(n, dtype)


def device_tables(device, tables):
    """Device copies of axis tables (made once per shape, so they go up once)."""
    out = []
    for t in tables:
        d = device.zeros(t.size, t.dtype)
        device.upload(t, d)
        out.append(d)
    return tuple(out)


class Resize(Layer):
    """The passes Interp and Upsample share: a separable resize of (N C) planes by per-axis
    tables (source rows/columns and weights), which each layer fills its own way."""

    def setup(self, bottom, top):
        self._key = None

    def resize_tables(self, planes, h, w, ho, wo, fill):
        """Make the tables of an (h, w) -> (ho, wo) resize when the shapes change (in CUDA
        mode they go up once then); fill(axis, tables) fills the rows' (0) or columns' (1)."""
        key = (h, w, ho, wo)
        if key != self._key:
            self._key = key
            self._rows, self._cols = axis_tables(ho, self.dtype), axis_tables(wo, self.dtype)
            fill(0, self._rows)
            fill(1, self._cols)
            if self.device is not None:
                self._tables_gpu = device_tables(self.device, self._rows + self._cols)
        self._x, self._y = (planes, h, w), (planes, ho, wo)

    def forward_cpu(self, bottom, top):
        resize_forward(bottom[0].data.reshape(self._x), *self._rows, *self._cols,
                       top[0].data.reshape(self._y))

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            resize_backward(top[0].diff.reshape(self._y), *self._rows, *self._cols,
                            bottom[0].diff.reshape(self._x))

    def forward_gpu(self, bottom, top):
        self.device.kernels("interp").resize_forward(
            bottom[0].gpu_data.reshape(self._x), *self._tables_gpu,
            top[0].mutable_gpu_data.reshape(self._y))

    def backward_gpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            self.device.kernels("interp").resize_backward(
                top[0].gpu_diff.reshape(self._y), *self._tables_gpu,
                bottom[0].mutable_gpu_diff.reshape(self._x))

@register_layer("Interp")
class Interp(Resize):
    @dataclass
    class Params:
        height: int | None = None
        width: int | None = None
        zoom_factor: int | None = None
        shrink_factor: int | None = None
        pad_beg: int = 0
        pad_end: int = 0

        def __post_init__(self):
            if self.pad_beg > 0 or self.pad_end > 0:
                raise ValueError("Interp supports only pad_beg, pad_end <= 0 (cropping), as "
                                 f"Caffe; got {self.pad_beg}, {self.pad_end}")
            for name in ("zoom_factor", "shrink_factor", "height", "width"):
                value = getattr(self, name)
                if value is not None and value < 1:
                    raise ValueError(f"Interp '{name}' must be >= 1, got {value}")

    num_bottom = (1, 2)

    def setup(self, bottom, top):
        p = self.p
        if len(bottom) == 1 and not (p.zoom_factor or p.shrink_factor
                                     or (p.height and p.width)):
            raise self.shape_error("give zoom_factor, shrink_factor, height and width, or a "
                                   "second bottom to take the size from")
        super().setup(bottom, top)

    def _out_size(self, bottom, h_eff, w_eff):
        p = self.p
        if len(bottom) > 1:
            return bottom[1].shape[2], bottom[1].shape[3]
        if p.shrink_factor and not p.zoom_factor:
            return (h_eff - 1) // p.shrink_factor + 1, (w_eff - 1) // p.shrink_factor + 1
        if p.zoom_factor and not p.shrink_factor:
            return (h_eff + (h_eff - 1) * (p.zoom_factor - 1),
                    w_eff + (w_eff - 1) * (p.zoom_factor - 1))
        if p.height and p.width:
            return p.height, p.width
        h = (h_eff - 1) // p.shrink_factor + 1
        w = (w_eff - 1) // p.shrink_factor + 1
        return h + (h - 1) * (p.zoom_factor - 1), w + (w - 1) * (p.zoom_factor - 1)

    def reshape(self, bottom, top):
        x = bottom[0]
        if x.ndim != 4 or (len(bottom) > 1 and bottom[1].ndim != 4):
            raise self.shape_error("bottoms must be 4-D (N, C, H, W): " + ", ".join(
                f"'{b.name}' is {list(b.shape)}" for b in bottom))
        n, c, h, w = x.shape
        crop = self.p.pad_beg + self.p.pad_end
        h_eff, w_eff = h + crop, w + crop
        if h_eff <= 0 or w_eff <= 0:
            raise self.shape_error(f"cropping {-crop} from '{x.name}' {list(x.shape)} "
                                   "leaves nothing")
        ho, wo = self._out_size(bottom, h_eff, w_eff)
        top[0].reshape((n, c, ho, wo))
        self.resize_tables(n * c, h, w, ho, wo, lambda axis, t: align_corners_table(
            (h_eff, w_eff)[axis], (ho, wo)[axis], -self.p.pad_beg, *t))


    def can_backprop(self, bottom_index):
        return bottom_index == 0
