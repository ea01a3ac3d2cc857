"""Convolution (Caffe's): y[n, m] = b[m] + sum_c W[m, c] (*) x[n, g*C/G + c] over the group g
of output m, with kernel (kh, kw), stride, zero padding and dilation.

Output size: OH = (H + 2 ph - (dh (kh - 1) + 1)) // sh + 1 (OW alike).
Weights W: (num_output, C / group, kh, kw); bias b: (num_output,), Caffe's layouts.

Computed by a plan made in reshape (kernels/cpu/conv_plan.py): register-tiled direct
kernels with explicit vectors (kernels/cpu/direct_conv.py), or im2col + one BLAS product
per group (grouped convolutions always). For each ungrouped shape the plan times the
candidates once per machine (tile shapes, the data gradient's two ways, im2col) and keeps
the fastest on disk; LAYERFLOW_TUNE=0 gives a fixed default. Each thread takes its own
images.

    - {name: conv1, type: Convolution, bottom: data, top: conv1, num_output: 20,
       kernel_size: 5, stride: 1, weight_filler: {type: xavier}}
"""
from dataclasses import dataclass, field

import numpy as np

from ..config.schema import bounded
from ..fillers import FillerSpec
from ..kernels.cpu import conv_plan
from ..kernels.cpu.conv_plan import ConvShape
from ..kernels.cpu.threads import num_threads
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
class SpatialParams:
    """The window keys Convolution and Pooling share, as Caffe spells them: one value,
    [h, w], or the _h/_w pair."""
    kernel_size: int | list[int] | None = None
    stride: int | list[int] | None = None
    pad: int | list[int] | None = None
    kernel_h: int | None = None
    kernel_w: int | None = None
    stride_h: int | None = None
    stride_w: int | None = None
    pad_h: int | None = None
    pad_w: int | None = None


@dataclass
class ConvParams(SpatialParams):
    """Caffe's ConvolutionParameter, flat."""
    num_output: int = bounded(0, lo=1)
    dilation: int | list[int] | None = None
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


def setup_conv_params(layer, bottom, weight_shape):
    """Shared setup of Convolution and Deconvolution: check the 4-D bottom and the group,
    create the weight of `weight_shape(channels, group, kh, kw)` and the bias."""
    shape = bottom[0].shape
    if len(shape) != 4:
        raise layer.shape_error(f"bottom '{bottom[0].name}' must be 4-D (N, C, H, W), "
                                f"got shape {list(shape)}")
    layer.channels = shape[1]
    g = layer.p.group
    if layer.channels % g:
        raise layer.shape_error(f"bottom '{bottom[0].name}' of shape {list(shape)} has "
                                f"{layer.channels} channels, not divisible by group {g}")
    layer.add_param(weight_shape(layer.channels, g, *layer.p.kernel), layer.p.weight_filler)
    if layer.p.bias_term:
        layer.add_param((layer.p.num_output,), layer.p.bias_filler)
    layer._no_bias = np.zeros(1, layer.dtype)
    layer._shape = None


@register_layer("Convolution")
class Convolution(Layer):
    Params = ConvParams
    own_threads = True

    def setup(self, bottom, top):
        setup_conv_params(self, bottom, lambda c, g, kh, kw: (self.p.num_output, c // g, kh, kw))

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
        s = ConvShape(n, c, h, w, self.p.num_output, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow,
                      self.p.group)
        self._plan, self._plan_how = conv_plan.plan(s, self.dtype, num_threads(),
                                                    self.p.bias_term, self.phase == "TRAIN")
        self._direct = isinstance(self._plan, conv_plan.Direct)
        self._buffers = conv_plan.arrays(self._plan)      # seen by memory reports
        self._shape = shape

    def forward_cpu(self, bottom, top):
        bias = self.blobs[1].data if self.p.bias_term else self._no_bias
        self._plan.forward(bottom[0].data, self.blobs[0].data, bias, self.p.bias_term,
                           top[0].data)

    def backward_cpu(self, top, propagate_down, bottom):
        bias_diff = self.blobs[1].diff if self.p.bias_term else self._no_bias
        self._plan.backward(bottom[0].data, top[0].diff, self.blobs[0].data,
                            propagate_down[0], bottom[0].diff, self.blobs[0].diff, bias_diff,
                            self.p.bias_term)
