"""ConvolutionDepthwise (MobileNet-Caffe's fork type): each input channel convolved with its
own filters, computed directly (kernels/cpu/depthwise_conv.py), not by im2col.

    y[n, m, i, j] = b[m] + sum_{a, b} W[m, 0, a, b] x[n, m // k, i sh - ph + a dh, j sw - pw + b dw]
    dW[m, 0, a, b] += sum_{n, i, j} dy[n, m, i, j] x[n, m // k, ...];  db[m] += sum dy[n, m]
    dx[n, c] = sum over c's k outputs m of the transposed convolution of dy[n, m] with W[m]

k = num_output / channels (the depth multiplier; 1 by default, when `num_output` is left out
as the fork allows). Weights W: (num_output, 1, kh, kw), bias (num_output,): the layout of a
Caffe `Convolution` with group == channels, which also runs these kernels (the hook in
layers/convolution.py). Params: Convolution's (kernel_size, stride, pad, dilation, bias_term,
fillers); `group`, if given, must be the channel count.

    - {name: conv2_1/dw, type: ConvolutionDepthwise, bottom: conv1, top: conv2_1/dw,
       kernel_size: 3, pad: 1, stride: 1, bias_term: false,
       weight_filler: {type: msra}}
"""
from dataclasses import dataclass

import numpy as np

from ..config.schema import bounded
from ..kernels.cpu.depthwise_conv import (depthwise_backward_data,
                                          depthwise_backward_weight_planes, depthwise_forward,
                                          depthwise_forward_folded,
                                          forward_work_size, weight_work_size)
from ..kernels.cpu.simd import VECTOR_BYTES
from ..layer import Layer
from ..registry import register_layer
from .convolution import ConvParams, conv_out_size


def depthwise_applies(group, channels):
    """Whether a grouped Convolution is depthwise (one input channel per group)."""
    return group > 1 and group == channels


def depthwise_top_shape(layer, shape):
    """(N, M, OH, OW) of a depthwise convolution of a bottom of `shape`, or a ShapeError."""
    n, c, h, w = shape
    (kh, kw), (sh, sw) = layer.p.kernel, layer.p.strides
    (ph, pw), (dh, dw) = layer.p.pads, layer.p.dilations
    oh, ow = conv_out_size(h, kh, sh, ph, dh), conv_out_size(w, kw, sw, pw, dw)
    if oh < 1 or ow < 1:
        raise layer.shape_error(f"kernel {kh}x{kw} (dilation {dh}x{dw}) does not fit a bottom "
                                f"of shape {list(shape)} padded by {ph}x{pw}: output would "
                                f"be {oh}x{ow}")
    return n, layer.blobs[0].shape[0], oh, ow


def _geometry(p):
    return (*p.strides, *p.pads, *p.dilations)


PARALLEL_MIN_FMAS = {           # below: one thread. The weight gradient runs on Numba's
    "weight": 1 << 22,          # pool (waking it cost ~0.4 ms in a net: 1-4M FMAs ran 2x
    "forward": 1 << 18,         # slower on two), the forward (and the data gradient run
    "data": 1 << 18,            # as one) on threads.run_parallel's helper team
}


def forward_work(layer, x_shape, y_shape, strides=None, dilations=None, key="forward"):
    """The per-thread padded planes of the forward kernel (key "forward", and "data" for
    the data gradient run as a forward) or the weight gradient ("weight"), (parts, size),
    kept on the layer and made again only when the shapes change: one part per thread (at
    most one per input plane) when the convolution has PARALLEL_MIN_FMAS[key] multiply-adds,
    else one."""
    p = layer.p
    strides, dilations = strides or p.strides, dilations or p.dilations
    cache = layer.__dict__.setdefault("_dw_work", {})
    shapes = (x_shape, y_shape, strides, dilations, layer.runtime.threads)
    if key not in cache or cache[key][0] != shapes:
        fmas = np.prod(y_shape, dtype=np.int64) * np.prod(p.kernel, dtype=np.int64)
        parts = max(1, min(layer.runtime.threads, x_shape[0] * x_shape[1]))
        if fmas < PARALLEL_MIN_FMAS[key]:
            parts = 1
        nlanes = VECTOR_BYTES // layer.dtype.itemsize
        size = (weight_work_size(layer.blobs[0].shape, y_shape, x_shape[1], strides, dilations,
                                 nlanes) if key == "weight" else
                forward_work_size(layer.blobs[0].shape, y_shape, strides, dilations, nlanes))
        cache[key] = (shapes, np.zeros((parts, size), layer.dtype))
    return cache[key][1]


def depthwise_forward_layer(layer, bottom, top, fold=None):
    """The layer's forward; with `fold` (a, b, relu, slope: BatchNorm.fold) each output
    plane (bias included) is then folded while in cache."""
    has_bias = len(layer.blobs) > 1
    bias = layer.blobs[1].data if has_bias else layer._no_bias
    work = forward_work(layer, bottom[0].shape, top[0].shape)
    if fold is None:
        depthwise_forward(bottom[0].data, layer.blobs[0].data, bias, has_bias,
                          *_geometry(layer.p), top[0].data, work)
        return
    a, b, relu, slope = fold
    depthwise_forward_folded(bottom[0].data, layer.blobs[0].data, bias, has_bias,
                             *_geometry(layer.p), top[0].data, work, a, b, relu, slope)


def _data_gradient_as_forward(layer, channels):
    """Whether the data gradient can run as the forward kernel: with one output per channel
    it is the stride-1 convolution of dy, spread out by the strides (zeros between its
    values) and padded by (k - 1) d - pad, with the filters turned by 180 degrees (the
    pads must not exceed the dilated kernel)."""
    p = layer.p
    (kh, kw), (ph, pw), (dh, dw) = p.kernel, p.pads, p.dilations
    return (layer.blobs[0].shape[0] == channels and ph <= (kh - 1) * dh
            and pw <= (kw - 1) * dw)


def depthwise_backward_layer(layer, top, propagate_down, bottom):
    has_bias = len(layer.blobs) > 1
    db = layer.blobs[1].diff if has_bias else layer._no_bias
    work = forward_work(layer, bottom[0].shape, top[0].shape, key="weight")
    depthwise_backward_weight_planes(bottom[0].data, top[0].diff, *_geometry(layer.p),
                                     has_bias, layer.blobs[0].diff, db, work)
    if not propagate_down[0]:
        return
    if not _data_gradient_as_forward(layer, bottom[0].shape[1]):
        depthwise_backward_data(top[0].diff, layer.blobs[0].data, *_geometry(layer.p),
                                bottom[0].diff)
        return
    p = layer.p
    (kh, kw), (ph, pw), (dh, dw) = p.kernel, p.pads, p.dilations
    w = layer.blobs[0].data
    turned = layer.__dict__.get("_dw_turned")
    if turned is None or turned.shape != w.shape:
        turned = layer._dw_turned = np.empty_like(w)
    turned[...] = w[:, :, ::-1, ::-1]
    work = forward_work(layer, top[0].shape, bottom[0].shape, (1, 1), p.dilations, "data")
    depthwise_forward(top[0].diff, turned, layer._no_bias, False, 1, 1, (kh - 1) * dh - ph,
                      (kw - 1) * dw - pw, dh, dw, bottom[0].diff, work, *p.strides)


@register_layer("ConvolutionDepthwise")
class ConvolutionDepthwise(Layer):
    @dataclass
    class Params(ConvParams):
        num_output: int = bounded(0, lo=0)        # 0: as many as the input channels

        def __post_init__(self):
            wanted, group = self.num_output, self.group
            self.num_output, self.group = max(wanted, 1), 1     # checked in setup instead
            super().__post_init__()
            self.num_output, self.group = wanted, group

    def setup(self, bottom, top):
        shape = bottom[0].shape
        if len(shape) != 4:
            raise self.shape_error(f"bottom '{bottom[0].name}' must be 4-D (N, C, H, W), "
                                   f"got shape {list(shape)}")
        c = shape[1]
        m = self.p.num_output or c
        if m % c:
            raise self.shape_error(f"num_output {m} must be a multiple of the {c} channels of "
                                   f"bottom '{bottom[0].name}'")
        if self.p.group not in (1, c):
            raise self.shape_error(f"group {self.p.group} must be the channel count {c} "
                                   "(or left out)")
        self.channels = c
        self.add_param((m, 1, *self.p.kernel), self.p.weight_filler)
        if self.p.bias_term:
            self.add_param((m,), self.p.bias_filler)
        self._no_bias = np.zeros(1, self.dtype)

    def reshape(self, bottom, top):
        shape = bottom[0].shape
        if len(shape) != 4 or shape[1] != self.channels:
            raise self.shape_error(f"bottom '{bottom[0].name}' has shape {list(shape)}; "
                                   f"the weights expect (N, {self.channels}, H, W)")
        top[0].reshape(depthwise_top_shape(self, shape))

    def forward_cpu(self, bottom, top):
        depthwise_forward_layer(self, bottom, top)

    def forward_folded(self, bottom, top, bn, scale, relu):
        """forward, then the in-place BatchNorm `bn` (and `scale`, `relu`, as in
        BatchNorm.forward_folded) on each output plane while it is in cache."""
        depthwise_forward_layer(self, bottom, top, bn.fold(scale, relu))

    def backward_cpu(self, top, propagate_down, bottom):
        depthwise_backward_layer(self, top, propagate_down, bottom)
