"""Upsample: nearest (default) or bilinear resize by an integer scale or to a given size
(the Upsample layer of YOLO / SegNet-style Caffe forks, without SegNet's pooling mask).

Output size: `upsample_h`/`upsample_w` where given, else H * scale_h and W * scale_w
(`scale_h`/`scale_w` default to `scale`, itself 2).

    NEAREST:  y[r, s] = x[floor(r H / H_out), floor(s W / W_out)]
              dx[i, j] = sum of dy over the outputs that read (i, j)
    BILINEAR: PyTorch's align_corners=False: src = (r + 0.5) H / H_out - 0.5 clamped at 0,
              blended between floor(src) and the next row (likewise columns); dx spreads dy
              back over the four taps. (Interp is the align_corners=True resize.)

    - {name: up1, type: Upsample, bottom: conv5, top: up1, scale: 2}
    - {name: up2, type: Upsample, bottom: x, top: y, upsample_h: 13, upsample_w: 17,
       mode: BILINEAR}
"""
from dataclasses import dataclass
from typing import Literal

from ..kernels.cpu.interp import half_pixel_table, nearest_table
from ..registry import register_layer
from .interp import Resize


@register_layer("Upsample")
class Upsample(Resize):
    @dataclass
    class Params:
        scale: int = 2
        scale_h: int | None = None
        scale_w: int | None = None
        upsample_h: int | None = None
        upsample_w: int | None = None
        mode: Literal["NEAREST", "BILINEAR"] = "NEAREST"

        def __post_init__(self):
            for name in ("scale", "scale_h", "scale_w", "upsample_h", "upsample_w"):
                value = getattr(self, name)
                if value is not None and value < 1:
                    raise ValueError(f"Upsample '{name}' must be >= 1, got {value}")

    def reshape(self, bottom, top):
        x = bottom[0]
        if x.ndim != 4:
            raise self.shape_error(f"bottom '{x.name}' {list(x.shape)} must be (N, C, H, W)")
        p = self.p
        n, c, h, w = x.shape
        ho = p.upsample_h or h * (p.scale_h or p.scale)
        wo = p.upsample_w or w * (p.scale_w or p.scale)
        top[0].reshape((n, c, ho, wo))
        table = nearest_table if p.mode == "NEAREST" else half_pixel_table
        self.resize_tables(n * c, h, w, ho, wo,
                           lambda axis, t: table((h, w)[axis], (ho, wo)[axis], *t))
