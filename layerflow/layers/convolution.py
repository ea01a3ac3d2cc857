"""Convolution (Caffe's): y[n, m] = b[m] + sum_c W[m, c] (*) x[n, g*C/G + c] over the group g
of output m, with kernel (kh, kw), stride, zero padding and dilation.

Output size: OH = (H + 2 ph - (dh (kh - 1) + 1)) // sh + 1 (OW alike).
Weights W: (num_output, C / group, kh, kw); bias b: (num_output,), Caffe's layouts.

Computed as one batched im2col, col (C kh kw, N OH OW), and one matrix product per group,
Y = W_g @ col_g, moved into NCHW with the bias added in the same pass. Gradients with
dY as (M, N OH OW): dW_g += dY_g @ col_g^T, db += sum over n and pixels of dy,
dx = col2im(W_g^T @ dY_g).

    - {name: conv1, type: Convolution, bottom: data, top: conv1, num_output: 20,
       kernel_size: 5, stride: 1, weight_filler: {type: xavier}}
"""
from dataclasses import dataclass, field

import numpy as np

from ..config.schema import bounded
from ..fillers import FillerSpec
from ..kernels.cpu.im2col import col2im, im2col, nchw_to_rows_bias_grad, rows_to_nchw
from ..kernels.cpu.threads import configure_threads, matmul
from ..layer import Layer
from ..registry import register_layer


def hw_pair(values, h, w, name, default):
    """Caffe's spatial parameters: `name` as one value or [h, w], or `name_h` and `name_w`
    (kernel_size: kernel_h and kernel_w)."""
    hw = name.replace("_size", "")
    if h is not None or w is not None:
        if values is not None and values != []:
            raise ValueError(f"give either '{name}' or '{hw}_h'/'{hw}_w', not both")
        if h is None or w is None:
            raise ValueError(f"'{hw}_h' and '{hw}_w' go together")
        return int(h), int(w)
    if values is None or values == []:
        if default is None:
            raise ValueError(f"missing '{name}' (one value or [h, w]) or '{hw}_h'/'{hw}_w'")
        return default, default
    if isinstance(values, int):
        return values, values
    if len(values) == 1:
        return values[0], values[0]
    if len(values) == 2:
        return values[0], values[1]
    raise ValueError(f"'{name}' takes one value or [h, w] (2-D convolution), got {values}")


@dataclass
class ConvParams:
    """Caffe's ConvolutionParameter, flat."""
    num_output: int = bounded(0, lo=1)
    kernel_size: int | list[int] | None = None
    stride: int | list[int] | None = None
    pad: int | list[int] | None = None
    dilation: int | list[int] | None = None
    kernel_h: int | None = None
    kernel_w: int | None = None
    stride_h: int | None = None
    stride_w: int | None = None
    pad_h: int | None = None
    pad_w: int | None = None
    group: int = bounded(1, lo=1)
    bias_term: bool = True
    weight_filler: FillerSpec = field(default_factory=lambda: FillerSpec("xavier"))
    bias_filler: FillerSpec = field(default_factory=FillerSpec)
    axis: int = 1

    def __post_init__(self):
        if self.num_output < 1:
            raise ValueError("'num_output' must be >= 1")
        self.kernel = hw_pair(self.kernel_size, self.kernel_h, self.kernel_w, "kernel_size",
                              None)
        self.strides = hw_pair(self.stride, self.stride_h, self.stride_w, "stride", 1)
        self.pads = hw_pair(self.pad, self.pad_h, self.pad_w, "pad", 0)
        self.dilations = hw_pair(self.dilation, None, None, "dilation", 1)
        for what, pair, lo in (("kernel", self.kernel, 1), ("stride", self.strides, 1),
                               ("pad", self.pads, 0), ("dilation", self.dilations, 1)):
            if min(pair) < lo:
                raise ValueError(f"'{what}' must be >= {lo}, got {list(pair)}")
        if self.num_output % self.group:
            raise ValueError(f"num_output {self.num_output} is not divisible by "
                             f"group {self.group}")
        if self.axis != 1:
            raise ValueError("only axis: 1 (NCHW) is supported")


def conv_out_size(size, k, s, p, d):
    return (size + 2 * p - (d * (k - 1) + 1)) // s + 1


@register_layer("Convolution")
class Convolution(Layer):
    Params = ConvParams

    def setup(self, bottom, top):
        configure_threads()
        shape = bottom[0].shape
        if len(shape) != 4:
            raise self.shape_error(f"bottom '{bottom[0].name}' must be 4-D (N, C, H, W), "
                                   f"got shape {list(shape)}")
        self.channels = shape[1]
        g = self.p.group
        if self.channels % g:
            raise self.shape_error(f"bottom '{bottom[0].name}' of shape {list(shape)} has "
                                   f"{self.channels} channels, not divisible by group {g}")
        kh, kw = self.p.kernel
        self.add_param((self.p.num_output, self.channels // g, kh, kw), self.p.weight_filler)
        if self.p.bias_term:
            self.add_param((self.p.num_output,), self.p.bias_filler)
        self._no_bias = np.zeros(1, self.dtype)
        self._shape = None

    def reshape(self, bottom, top):
        shape = bottom[0].shape
        if shape == self._shape:
            top[0].reshape(self._top_shape)
            return
        if len(shape) != 4 or shape[1] != self.channels:
            raise self.shape_error(f"bottom '{bottom[0].name}' has shape {list(shape)}; "
                                   f"the weights expect (N, {self.channels}, H, W)")
        n, c, h, w = shape
        (kh, kw), (sh, sw) = self.p.kernel, self.p.strides
        (ph, pw), (dh, dw) = self.p.pads, self.p.dilations
        oh, ow = conv_out_size(h, kh, sh, ph, dh), conv_out_size(w, kw, sw, pw, dw)
        if oh < 1 or ow < 1:
            raise self.shape_error(
                f"kernel {kh}x{kw} (dilation {dh}x{dw}) does not fit bottom '{bottom[0].name}' "
                f"of shape {list(shape)} padded by {ph}x{pw}: output would be {oh}x{ow}")
        self.out_hw = (oh, ow)
        self._top_shape = (n, self.p.num_output, oh, ow)
        top[0].reshape(self._top_shape)
        npix = n * oh * ow
        rows = c * kh * kw
        # Buffers: the batch's patches, the product before the layout move, and their diffs.
        self._col = np.empty((rows, npix), self.dtype)
        self._y = np.empty((self.p.num_output, npix), self.dtype)
        self._dcol = None
        self._wgrad = np.empty((self.p.num_output, rows // self.p.group), self.dtype)
        self._shape = shape

    def _im2col(self, x):
        (kh, kw), (sh, sw) = self.p.kernel, self.p.strides
        (ph, pw), (dh, dw) = self.p.pads, self.p.dilations
        im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, self.out_hw[0], self.out_hw[1], self._col)

    def forward_cpu(self, bottom, top):
        self._im2col(bottom[0].data)
        w = self.blobs[0].data.reshape(self.p.num_output, -1)
        g = self.p.group
        if g == 1:
            matmul(w, self._col, self._y)
        else:
            mg, rg = self.p.num_output // g, self._col.shape[0] // g
            for i in range(g):
                matmul(w[i * mg:(i + 1) * mg], self._col[i * rg:(i + 1) * rg],
                       self._y[i * mg:(i + 1) * mg])
        out = top[0].data.reshape(self._top_shape[0], self.p.num_output, -1)
        bias = self.blobs[1].data if self.p.bias_term else self._no_bias
        rows_to_nchw(self._y, bias, self.p.bias_term, out)

    def backward_cpu(self, top, propagate_down, bottom):
        n, m = self._top_shape[:2]
        dy = top[0].diff.reshape(n, m, -1)
        db = self.blobs[1].diff if self.p.bias_term else self._no_bias
        dyr = self._y                     # reuse the forward product's buffer for dY rows
        nchw_to_rows_bias_grad(dy, dyr, db, self.p.bias_term)
        w = self.blobs[0]
        wd = w.diff.reshape(m, -1)
        wm = w.data.reshape(m, -1)
        g = self.p.group
        mg, rg = m // g, self._col.shape[0] // g
        for i in range(g):
            ms, rs = slice(i * mg, (i + 1) * mg), slice(i * rg, (i + 1) * rg)
            matmul(dyr[ms], self._col[rs].T, self._wgrad[ms])
        np.add(wd, self._wgrad, out=wd)
        if propagate_down[0]:
            dcol = self._col              # the patches are no longer needed: reuse
            for i in range(g):
                ms, rs = slice(i * mg, (i + 1) * mg), slice(i * rg, (i + 1) * rg)
                matmul(wm[ms].T, dyr[ms], dcol[rs])
            (kh, kw), (sh, sw) = self.p.kernel, self.p.strides
            (ph, pw), (dh, dw) = self.p.pads, self.p.dilations
            col2im(dcol, kh, kw, sh, sw, ph, pw, dh, dw, self.out_hw[0], self.out_hw[1],
                   bottom[0].diff)
