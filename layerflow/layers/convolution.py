"""Convolution (Caffe's): y[n, m] = b[m] + sum_c W[m, c] (*) x[n, g*C/G + c] over the group g
of output m, with kernel (kh, kw), stride, zero padding and dilation.

Output size: OH = (H + 2 ph - (dh (kh - 1) + 1)) // sh + 1 (OW alike).
Weights W: (num_output, C / group, kh, kw); bias b: (num_output,), Caffe's layouts.

Computed by a plan made in reshape (kernels/cpu/conv_plan.py): register-tiled direct
kernels with explicit vectors (kernels/cpu/direct_conv.py), BLAS products on the NCHW
blobs for 1x1 layers without padding (Pointwise), or im2col + one BLAS product per group
(grouped convolutions always). For each ungrouped shape the plan times the candidates
once per machine (tile shapes, the data gradient's two ways, Pointwise, im2col) and
keeps the fastest on disk; LAYERFLOW_TUNE=0 gives a fixed default. Each thread takes its
own images; a batch smaller than the threads splits each image's work among them. A depthwise convolution (group == channels > 1) runs the direct per-channel kernels
of layers/convolution_depthwise.py instead.
In CUDA mode: im2col of the whole batch into one device `col`, then per group one strided
GEMM over the images, Y_n = W_g @ col_n written straight into NCHW (kernels/cuda/gemm.py);
dW_g += sum_n dY_n col_n^T is one GEMM with the images folded into k, dcol_n = W_g^T dY_n
overwrites col, and col2im gathers it into dx (kernels/cuda/direct_conv.py has a direct
kernel for few channels, unmeasured on a GPU so far: not used by the layer).
"""
from dataclasses import dataclass, field

import numpy as np

from ..config.schema import bounded
from ..fillers import FillerSpec
from ..kernels.cpu import conv_plan, threads
from ..kernels.cpu.conv_plan import ConvShape
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
        self._shape = shape
        # depthwise (group == channels): the direct kernels of layers/convolution_depthwise.py
        from . import convolution_depthwise
        self._depthwise = convolution_depthwise if convolution_depthwise.depthwise_applies(
            self.p.group, c) else None
        self._direct = False
        if self.device is not None:        # CUDA mode: the batch's patches, on the device
            self._col_gpu = self.device.zeros(c * kh * kw * n * oh * ow, self.dtype).reshape(
                c * kh * kw, n * oh * ow)
            return
        if self._depthwise:
            return
        s = ConvShape(n, c, h, w, self.p.num_output, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow,
                      self.p.group)
        # the settings the passes run with, so that tuning times what will run: during net
        # setup OpenBLAS still had its own spinning threads, and the im2col candidate's
        # products under the plan's threads took 10x their time
        threads.apply(self.runtime)
        self._plan, self._plan_how = conv_plan.plan(s, self.dtype, self.runtime.threads,
                                                    self.p.bias_term, self.phase == "TRAIN",
                                                    self.runtime.product_parts)
        self._direct = isinstance(self._plan, conv_plan.Direct)
        self._buffers = conv_plan.arrays(self._plan)      # seen by memory reports

    def algorithm(self):
        """The way this layer computes, for `layerflow time` and the benchmarks."""
        if self.device is not None:
            return "im2col + GEMM on the device"
        if self._depthwise:
            return "depthwise direct kernels"
        return conv_plan.describe(self)

    def forward_cpu(self, bottom, top):
        if self._depthwise:
            self._depthwise.depthwise_forward_layer(self, bottom, top)
            return
        bias = self.blobs[1].data if self.p.bias_term else self._no_bias
        self._plan.forward(bottom[0].data, self.blobs[0].data, bias, self.p.bias_term,
                           top[0].data)

    def forward_folded(self, bottom, top, bn, scale, relu):
        """forward, then the in-place BatchNorm `bn` with `scale` and `relu` (as in
        BatchNorm.forward_folded) on the output: inside the passes that wrote it where the
        layer runs as depthwise or 1x1 (Pointwise) kernels, else as one pass after."""
        if self._depthwise:
            self._depthwise.depthwise_forward_layer(self, bottom, top, bn.fold(scale, relu))
            return
        if not isinstance(self._plan, conv_plan.Pointwise):
            self.forward_cpu(bottom, top)
            bn.reshape(top, top)
            bn.forward_folded(top, top, scale, relu)
            return
        a, b, on, slope = bn.fold(scale, relu)
        if self.p.bias_term:
            b = b + a * self.blobs[1].data
        self._plan.forward(bottom[0].data, self.blobs[0].data, self._no_bias, False,
                           top[0].data, (a, b, on, slope))

    def backward_cpu(self, top, propagate_down, bottom):
        if self._depthwise:
            self._depthwise.depthwise_backward_layer(self, top, propagate_down, bottom)
            return
        bias_diff = self.blobs[1].diff if self.p.bias_term else self._no_bias
        self._plan.backward(bottom[0].data, top[0].diff, self.blobs[0].data,
                            propagate_down[0], bottom[0].diff, self.blobs[0].diff, bias_diff,
                            self.p.bias_term)

    def forward_gpu(self, bottom, top):
        n, m = self._top_shape[:2]
        g, rows, pixels = self.p.group, self._col_gpu.shape[0], self.out_hw[0] * self.out_hw[1]
        mg, rg = m // g, rows // g
        im2col, gemm = self.device.kernels("im2col"), self.device.kernels("gemm")
        im2col.im2col(bottom[0].gpu_data, *self._geometry(), self._col_gpu)
        w = self.blobs[0].gpu_data.reshape(self.blobs[0].count)
        col = self._col_gpu.reshape(self._col_gpu.size)
        y = top[0].mutable_gpu_data
        yf = y.reshape(y.size)
        for gi in range(g):          # Y[n, g] = W_g @ col_g[:, n], W broadcast over the images
            gemm.gemm_strided(mg, pixels, rg, w[gi * mg * rg:], (0, rg, 0, 1),
                              col[gi * rg * n * pixels:], (pixels, 0, n * pixels, 1),
                              yf[gi * mg * pixels:], (m * pixels, pixels, 1), batch=n)
        if self.p.bias_term:
            im2col.add_channel_bias(y.reshape(n, m, pixels), self.blobs[1].gpu_data)

    def backward_gpu(self, top, propagate_down, bottom):
        """col still holds forward's patches (nothing else writes it between the passes)."""
        n, m = self._top_shape[:2]
        g, rows, pixels = self.p.group, self._col_gpu.shape[0], self.out_hw[0] * self.out_hw[1]
        mg, rg = m // g, rows // g
        im2col, gemm = self.device.kernels("im2col"), self.device.kernels("gemm")
        dy = top[0].gpu_diff
        dyf = dy.reshape(dy.size)
        col = self._col_gpu.reshape(self._col_gpu.size)
        if self.p.bias_term:
            im2col.channel_sum(dy.reshape(n, m, pixels), self.blobs[1].mutable_gpu_diff)
        dw = self.blobs[0].mutable_gpu_diff
        dwf = dw.reshape(dw.size)
        for gi in range(g):          # dW_g += sum_n dY[n, g] col_g[:, n]^T (images in k)
            gemm.gemm_strided(mg, rg, n * pixels, dyf[gi * mg * pixels:],
                              (0, pixels, m * pixels, 1), col[gi * rg * n * pixels:],
                              (0, pixels, 1, n * pixels), dwf[gi * mg * rg:], (0, rg, 1),
                              kp=pixels, beta=1.0)
        if not propagate_down[0]:
            return
        w = self.blobs[0].gpu_data.reshape(self.blobs[0].count)
        for gi in range(g):          # dcol_g[:, n] = W_g^T dY[n, g]
            gemm.gemm_strided(rg, pixels, mg, w[gi * mg * rg:], (0, 1, 0, rg),
                              dyf[gi * mg * pixels:], (m * pixels, 0, pixels, 1),
                              col[gi * rg * n * pixels:], (pixels, n * pixels, 1), batch=n)
        im2col.col2im(self._col_gpu, *self._geometry(), bottom[0].mutable_gpu_diff)

    def _geometry(self):
        (kh, kw), (sh, sw) = self.p.kernel, self.p.strides
        (ph, pw), (dh, dw) = self.p.pads, self.p.dilations
        return kh, kw, sh, sw, ph, pw, dh, dw, self.out_hw[0], self.out_hw[1]

    def to_onnx(self, g, x, y, bottom, top):
        conv_node(self, g, x, y, "Conv")


def conv_node(layer, g, x, y, op):
    """The ONNX Conv / ConvTranspose node of a (de)convolution layer; the weight layouts are
    ONNX's already (Caffe's)."""
    p, name = layer.p, layer.name
    inputs = [x[0]] + [g.const(f"{name}_{k}", b.cpu_data) for k, b in zip("Wb", layer.blobs)]
    (ph, pw) = p.pads
    g.node(op, inputs, y[:1], name, kernel_shape=list(p.kernel), strides=list(p.strides),
           pads=[ph, pw, ph, pw], dilations=list(p.dilations), group=p.group)
