"""Pooling (Caffe's): MAX or AVE over kh x kw windows with stride and zero padding, per
channel.

Output size, Caffe's rounding: OH = ceil((H + 2 ph - kh) / sh) + 1, then OH -= 1 when
ph > 0 and the last window would start at or past H + ph (so every window starts inside
the padded input); `round_mode: FLOOR` (or `ceil_mode: false`, as Caffe forks write it)
rounds down instead. `global_pooling: true` pools
the whole plane (kernel = H x W, stride 1, pad 0).
MAX: y = max over the window clipped to the image; dx[argmax] += dy. A second top gets the
argmax as a float flat index h*W + w (Caffe's mask).
AVE: y = sum over the window clipped to the image / |window clipped to the padded input|;
dx[pixel] += dy / |window| for each window holding the pixel.

    - {name: pool1, type: Pooling, bottom: conv1, top: pool1, pool: MAX,
       kernel_size: 2, stride: 2}
"""
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..kernels.cpu.pooling import (ave_pool_backward, ave_pool_forward, ave_pool_plan,
                                   global_ave_backward, global_ave_forward, mask_to_float,
                                   max_pool_backward, max_pool_forward, max_pool_plan)
from ..layer import Layer
from ..registry import register_layer
from .convolution import SpatialParams, hw_pair


@register_layer("Pooling")
class Pooling(Layer):
    @dataclass
    class Params(SpatialParams):
        pool: Literal["MAX", "AVE"] = "MAX"
        global_pooling: bool = False
        round_mode: Literal["CEIL", "FLOOR"] = "CEIL"
        ceil_mode: bool = True          # false = FLOOR (the name of Caffe forks)

        def __post_init__(self):
            if self.global_pooling:
                if self.kernel_size is not None or self.kernel_h is not None:
                    raise ValueError("with global_pooling the kernel is the whole input; "
                                     "do not give 'kernel_size'")
                self.kernel = None
            else:
                self.kernel = hw_pair(self.kernel_size, self.kernel_h, self.kernel_w,
                                      "kernel_size", None)
            self.strides = hw_pair(self.stride, self.stride_h, self.stride_w, "stride", 1)
            self.pads = hw_pair(self.pad, self.pad_h, self.pad_w, "pad", 0)
            if self.kernel is not None and min(self.kernel) < 1:
                raise ValueError(f"'kernel_size' must be >= 1, got {list(self.kernel)}")
            if min(self.strides) < 1:
                raise ValueError(f"'stride' must be >= 1, got {list(self.strides)}")
            if min(self.pads) < 0:
                raise ValueError(f"'pad' must be >= 0, got {list(self.pads)}")
            if self.global_pooling and (max(self.pads) > 0 or max(self.strides) > 1):
                raise ValueError("global_pooling takes no 'pad' and stride 1")
            if self.kernel is not None and (self.pads[0] >= self.kernel[0]
                                            or self.pads[1] >= self.kernel[1]):
                raise ValueError(f"'pad' {list(self.pads)} must be smaller than the kernel "
                                 f"{list(self.kernel)}")

    num_top = (1, 2)
    own_threads = True

    def setup(self, bottom, top):
        if len(top) == 2 and self.p.pool != "MAX":
            raise self.shape_error("only MAX pooling has a second top (the argmax mask)")
        self._shape = None

    def reshape(self, bottom, top):
        shape = bottom[0].shape
        if shape == self._shape:
            for t in top:
                t.reshape(self._top_shape)
            return
        if len(shape) != 4:
            raise self.shape_error(f"bottom '{bottom[0].name}' must be 4-D (N, C, H, W), "
                                   f"got shape {list(shape)}")
        n, c, h, w = shape
        kh, kw = (h, w) if self.p.global_pooling else self.p.kernel
        (sh, sw), (ph, pw) = self.p.strides, self.p.pads
        if kh > h + 2 * ph or kw > w + 2 * pw:
            raise self.shape_error(f"kernel {kh}x{kw} is larger than bottom '{bottom[0].name}' "
                                   f"of shape {list(shape)} padded by {ph}x{pw}")
        oh, ow = self.out_size(h, kh, sh, ph, pw), self.out_size(w, kw, sw, pw, ph)
        if oh < 1 or ow < 1:
            raise self.shape_error(f"bottom '{bottom[0].name}' of shape {list(shape)} gives "
                                   f"an empty output {oh}x{ow}")
        self.geometry = (kh, kw, sh, sw, ph, pw)
        self._rows = (n * c, h * w)                 # global pooling: a plane per row
        self._top_shape = (n, c, oh, ow)
        for t in top:
            t.reshape(self._top_shape)
        chunks = min(n * c, 8 * self.runtime.threads)
        if self.p.pool == "MAX":
            self._mask = np.empty(self._top_shape, np.int32)
            if self.device is not None:             # the argmax stays on the device
                self._mask_gpu = self.device.zeros(self._mask.size, np.int32).reshape(
                    self._top_shape)
            self._plan = max_pool_plan(h, w, kh, kw, sh, sw, ph, pw, oh, ow, self.dtype,
                                       chunks)
        else:
            self._plan = ave_pool_plan(h, w, kh, kw, sh, sw, ph, pw, oh, ow, self.dtype,
                                       chunks)
        self._shape = shape

    def forward_cpu(self, bottom, top):
        if self.p.pool == "MAX":
            max_pool_forward(bottom[0].data, *self.geometry, top[0].data, self._mask,
                             *self._plan)
            if len(top) == 2:
                mask_to_float(self._mask, top[1].data)
        elif self.p.global_pooling:
            global_ave_forward(bottom[0].data.reshape(self._rows), top[0].data.reshape(-1))
        else:
            ave_pool_forward(bottom[0].data, *self.geometry, top[0].data, *self._plan)

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        if self.p.pool == "MAX":
            max_pool_backward(top[0].diff, self._mask, bottom[0].diff)
        elif self.p.global_pooling:
            global_ave_backward(top[0].diff.reshape(-1), bottom[0].diff.reshape(self._rows))
        else:
            ave_pool_backward(top[0].diff, *self.geometry, bottom[0].diff, *self._plan)

    def forward_gpu(self, bottom, top):
        k = self.device.kernels("pooling")
        x, y = bottom[0].gpu_data, top[0].mutable_gpu_data
        if self.p.pool == "MAX":
            k.max_pool_forward(x, *self.geometry, y, self._mask_gpu, *self._plan)
            if len(top) == 2:
                k.mask_to_float(self._mask_gpu, top[1].mutable_gpu_data)
        else:
            k.ave_pool_forward(x, *self.geometry, y, *self._plan)

    def backward_gpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        k = self.device.kernels("pooling")
        dy, dx = top[0].gpu_diff, bottom[0].mutable_gpu_diff
        if self.p.pool == "MAX":
            k.max_pool_backward(dy, self._mask_gpu, dx)
        else:
            k.ave_pool_backward(dy, *self.geometry, dx, *self._plan)

    def out_size(self, size, k, s, p, other_pad):
        """Caffe's output size along one axis: when either pad is nonzero (Caffe tests
        pad_h || pad_w for both axes), the last window must start inside the input + pad."""
        if self.p.round_mode == "CEIL" and self.p.ceil_mode:
            out = int(math.ceil((size + 2 * p - k) / s)) + 1
        else:
            out = (size + 2 * p - k) // s + 1
        if (p > 0 or other_pad > 0) and (out - 1) * s >= size + p:
            out -= 1
        return out

    def to_onnx(self, g, x, y, bottom, top):
        p, name = self.p, self.name
        if len(top) > 1:
            raise g.error(self, "the max-pooling mask top has no ONNX form")
        if p.global_pooling:
            g.node("GlobalMaxPool" if p.pool == "MAX" else "GlobalAveragePool", x, y, name)
            return
        kh, kw, sh, sw, ph, pw = self.geometry
        ceil = p.round_mode == "CEIL"
        onnx_size = [_onnx_out(size, k, s, pad, ceil) for size, k, s, pad in
                     ((bottom[0].shape[2], kh, sh, ph), (bottom[0].shape[3], kw, sw, pw))]
        if tuple(onnx_size) != tuple(top[0].shape[2:4]):
            raise g.error(self, f"Caffe's rounding gives {list(top[0].shape[2:4])} here, ONNX "
                                f"pooling would give {onnx_size} (the last window starts in "
                                "the padding)")
        attrs = dict(kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw],
                     ceil_mode=int(ceil))
        if p.pool == "MAX":
            g.node("MaxPool", x, y, name, **attrs)
        elif max(ph, pw) > 0:
            raise g.error(self, "AVE pooling with padding divides differently in Caffe and "
                                "ONNX; export supports pad 0")
        else:
            g.node("AveragePool", x, y, name, count_include_pad=0, **attrs)


def _onnx_out(size, k, s, p, ceil):
    """ONNX's pooled size (no last-window rule)."""
    return (math.ceil if ceil else math.floor)((size + 2 * p - k) / s) + 1
