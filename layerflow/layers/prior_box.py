"""PriorBox: SSD's default (prior) boxes for one feature map, exactly as SSD's Caffe layer.
Bottoms: the feature map (N, C, H, W) and the image (N, C, H_img, W_img); top
(1, 2, H * W * P * 4): channel 0 the boxes [xmin, ymin, xmax, ymax] in [0, 1] image
coordinates, channel 1 their variances. No gradient.

Ratios: 1, then each `aspect_ratio` not already listed, followed by its inverse when
`flip`. P = len(ratios) * len(min_size) + len(max_size). At position (h, w) the centre is
((w + offset) step_w, (h + offset) step_h), with step = image size / feature size unless
`step` (or step_h/step_w) is given, and the image size from the second bottom unless
`img_size` (or img_h/img_w) is. For each min size m (and its max size M):

    a square of side m;  a square of side sqrt(m M) (with max sizes);
    for each ratio r != 1: width b sqrt(r), height b / sqrt(r), b = m (sqrt(m M) with max sizes)
    corners (centre -/+ size / 2) / image size, clipped to [0, 1] with `clip`

Sizes are truncated to integers, as SSD's code does. `variance`: none (0.1 for all four),
one value, or four (x, y, w, h). A list param may be written as one bare value.

    - {name: conv4_3_norm_mbox_priorbox, type: PriorBox, bottom: [conv4_3_norm, data],
       top: conv4_3_norm_mbox_priorbox, min_size: 30, max_size: 60, aspect_ratio: [2],
       flip: true, clip: false, variance: [0.1, 0.1, 0.2, 0.2], step: 8, offset: 0.5}
"""
from dataclasses import dataclass, field

import numpy as np

from ..blob import UNINIT
from ..kernels.cpu.prior_box import prior_boxes
from ..layer import Layer
from ..registry import register_layer


@register_layer("PriorBox")
class PriorBox(Layer):
    @dataclass
    class Params:
        min_size: float | list[float] = field(default_factory=list)
        max_size: float | list[float] = field(default_factory=list)
        aspect_ratio: float | list[float] = field(default_factory=list)
        flip: bool = True
        clip: bool = False
        variance: float | list[float] = field(default_factory=list)
        img_size: int | None = None
        img_h: int | None = None
        img_w: int | None = None
        step: float | None = None
        step_h: float | None = None
        step_w: float | None = None
        offset: float = 0.5

        def __post_init__(self):
            for name in ("min_size", "max_size", "aspect_ratio", "variance"):
                if not isinstance(getattr(self, name), list):     # one value written bare
                    setattr(self, name, [getattr(self, name)])
            if not self.min_size or any(m <= 0 for m in self.min_size):
                raise ValueError(f"PriorBox needs positive 'min_size', got {self.min_size}")
            if self.max_size and (len(self.max_size) != len(self.min_size) or any(
                    hi <= lo for lo, hi in zip(self.min_size, self.max_size))):
                raise ValueError(f"PriorBox 'max_size' {self.max_size} must pair with "
                                 f"'min_size' {self.min_size}, each larger")
            if len(self.variance) not in (0, 1, 4) or any(v <= 0 for v in self.variance):
                raise ValueError("PriorBox 'variance' takes 1 or 4 positive values, got "
                                 f"{self.variance}")
            for whole, h, w in (("img_size", "img_h", "img_w"), ("step", "step_h", "step_w")):
                hv, wv = getattr(self, h), getattr(self, w)
                if (hv is not None or wv is not None) and getattr(self, whole) is not None:
                    raise ValueError(f"PriorBox: give '{whole}' or '{h}'/'{w}', not both")
                if (hv is None) != (wv is None) or any(v is not None and v <= 0
                                                       for v in (hv, wv, getattr(self, whole))):
                    raise ValueError(f"PriorBox: '{h}' and '{w}' go together, and "
                                     f"'{whole}', '{h}', '{w}' must be positive")

    num_bottom = 2

    def can_backprop(self, bottom_index):
        return False

    def setup(self, bottom, top):
        p = self.p
        ratios = [1.0]
        for r in p.aspect_ratio:
            if all(abs(r - q) >= 1e-6 for q in ratios):
                ratios.append(r)
                if p.flip:
                    ratios.append(1.0 / r)
        self.ratios = np.array(ratios)
        self.min_sizes = np.array([int(m) for m in p.min_size], np.float64)
        self.max_sizes = np.array([int(m) for m in p.max_size], np.float64)
        self.num_priors = len(ratios) * len(p.min_size) + len(p.max_size)
        self.variance = np.array(p.variance or [0.1])

    def reshape(self, bottom, top):
        for b in bottom:
            if b.ndim != 4:
                raise self.shape_error(f"bottom '{b.name}' {list(b.shape)} must be "
                                       "(N, C, H, W)")
        h, w = bottom[0].shape[2:]
        top[0].reshape((1, 2, h * w * self.num_priors * 4))

    def forward_cpu(self, bottom, top):
        p = self.p
        h, w = bottom[0].shape[2:]
        img_h = p.img_h or p.img_size or bottom[1].shape[2]
        img_w = p.img_w or p.img_size or bottom[1].shape[3]
        step_h = p.step_h or p.step or img_h / h
        step_w = p.step_w or p.step or img_w / w
        out = top[0].data.reshape(2, -1)
        prior_boxes(h, w, img_h, img_w, step_h, step_w, p.offset, self.min_sizes,
                    self.max_sizes, self.ratios, p.clip, out[0])
        out[1].reshape(-1, self.variance.size)[...] = self.variance

    def backward_cpu(self, top, propagate_down, bottom):
        """No gradient: the boxes depend on shapes only."""

    def forward_gpu(self, bottom, top):
        """The boxes depend on shapes only: made on the host when the shapes change (they go
        up once, when the next layer reads them), nothing done per iteration otherwise."""
        key = (tuple(bottom[0].shape), tuple(bottom[1].shape))
        if key != getattr(self, "_made_for", None) or top[0].heads()[0] == UNINIT:
            self.forward_cpu(bottom, top)
            self._made_for = key

    def backward_gpu(self, top, propagate_down, bottom):
        """No gradient."""
