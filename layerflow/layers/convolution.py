"""Convolution (Caffe's): y[n, m] = b[m] + sum_c W[m, c] (*) x[n, g*C/G + c] over the group g
of output m, with kernel (kh, kw), stride, zero padding and dilation.

Output size: OH = (H + 2 ph - (dh (kh - 1) + 1)) // sh + 1 (OW alike).
Weights W: (num_output, C / group, kh, kw); bias b: (num_output,), Caffe's layouts.

Three ways of computing it, chosen in reshape (the first in layers/convolution_depthwise.py):
- depthwise (group == channels > 1): direct per-channel kernels, no im2col.
- direct (ungrouped, stride 1, pad <= dilation (k - 1), the common case): register-tiled
  kernels with explicit vectors (kernels/cpu/direct_conv.py) for forward, weight gradient
  and data gradient (a convolution of the padded dY with the flipped weights); each
  thread takes a contiguous range of images.
- im2col (groups, strides, larger pads): chunks of a few images whose patches fit in about
  an L2 cache: im2col of the chunk, col (C kh kw, n OH OW), then one matrix product per
  group, Y = W_g @ col_g, moved into NCHW with the bias added in the same pass; the chunks
  are shared out among the threads (each with its own buffers). Gradients with dY as
  (M, n OH OW): dW_g += dY_g @ col_g^T, db += sum over n and pixels of dy,
  dx = col2im(W_g^T @ dY_g); the patches are kept from forward when a training layer's
  total at most 16 MB, else recomputed per chunk as Caffe does.
In CUDA mode: im2col of the whole batch into one device `col`, then per group one strided
GEMM over the images, Y_n = W_g @ col_n written straight into NCHW (kernels/cuda/gemm.py);
dW_g += sum_n dY_n col_n^T is one GEMM with the images folded into k, dcol_n = W_g^T dY_n
overwrites col, and col2im gathers it into dx (kernels/cuda/direct_conv.py has a direct
kernel for few channels, unmeasured on a GPU so far: not used by the layer).

    - {name: conv1, type: Convolution, bottom: data, top: conv1, num_output: 20,
       kernel_size: 5, stride: 1, weight_filler: {type: xavier}}
"""
from dataclasses import dataclass, field

import numpy as np

from ..config.schema import bounded
from ..fillers import FillerSpec
from ..kernels.cpu import direct_conv as dc
from ..kernels.cpu.im2col import col2im, im2col, nchw_to_rows_bias_grad, rows_to_nchw
from ..kernels.cpu.threads import run_parallel
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


CHUNK_BYTES = 1 << 20     # patches per thread chunk: about an L2 cache
KEEP_BYTES = 16 << 20     # training layers with at most this much patches keep them
COL2IM_ADD = 14           # col2im's add (~0.17 ns an element, as masked vector adds) in
                          # lane products of the tile (~0.012 ns at 165 GFLOP/s), measured
                          # on LeNet's conv2; it picks the faster way on every benchmark layer


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
        self._direct = self.p.group == 1
        # depthwise (group == channels): the direct kernels of layers/convolution_depthwise.py
        from . import convolution_depthwise
        self._depthwise = convolution_depthwise if convolution_depthwise.depthwise_applies(
            self.p.group, c) else None
        if self.device is not None:        # CUDA mode: the batch's patches, on the device
            self._col_gpu = self.device.zeros(c * kh * kw * n * oh * ow, self.dtype).reshape(
                c * kh * kw, n * oh * ow)
            self._shape = shape
            return
        if self._depthwise:
            self._shape = shape
            return
        if self._direct:
            self._plan_direct(n, c, h, w)
        else:
            self._plan(n, c * kh * kw, oh * ow)
        self._shape = shape

    def forward_cpu(self, bottom, top):
        if self._depthwise:
            self._depthwise.depthwise_forward_layer(self, bottom, top)
        elif self._direct:
            self._forward_direct(bottom, top)
        else:
            self._forward_im2col(bottom, top)

    def backward_cpu(self, top, propagate_down, bottom):
        if self._depthwise:
            self._depthwise.depthwise_backward_layer(self, top, propagate_down, bottom)
        elif self._direct:
            self._backward_direct(top, propagate_down, bottom)
        else:
            self._backward_im2col(top, propagate_down, bottom)

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

    def _plan_direct(self, n, c, h, w):
        """Offsets and per-thread buffers of the direct kernels (kernels/cpu/direct_conv.py):
        each thread takes a contiguous range of images."""
        (kh, kw), (sh, sw) = self.p.kernel, self.p.strides
        (ph, pw), (dh, dw) = self.p.pads, self.p.dilations
        (oh, ow), m, dt = self.out_hw, self.p.num_output, self.dtype
        lanes = dc.lanes_of(dt)
        hp, wp = h + 2 * ph, w + 2 * pw
        self._offs = dc.tap_offsets(c, kh, kw, dh, dw, hp, wp, row_major=True)
        self._spans = dc.tap_spans(oh, ow, h, kh, sh, ph, dh, c * kw)
        self._out_rows = dc.pixel_offsets(oh, ow, wp, sh, sw)
        self._taps = dc.pad_rows(dc.tap_offsets(c, kh, kw, dh, dw, hp, wp))
        group = dc.image_group(oh * ow)
        self._out_pixels = dc.group_offsets(self._out_rows[:oh * ow], group, c * hp * wp)
        blocks = -(-m // lanes)
        self._panels = np.zeros(blocks * self._offs.size * lanes, dt)
        self._parts = max(1, min(self.runtime.threads, n))
        self._ranges = [(t * n // self._parts, (t + 1) * n // self._parts)
                        for t in range(self._parts)]
        self._xpad = self._each(group * c * hp * wp)
        self._acc = self._each(dc.ROWS * lanes)
        self._dypanel = self._each(blocks * group * oh * ow * lanes)
        self._wsum = self._each(blocks * self._taps.size * lanes)
        self._bsum = self._each(m)
        self._plan_data_grad(c, h, w, lanes)

    def _plan_data_grad(self, c, h, w, lanes):
        """The data gradient's way: "full" (a stride-1 convolution of the padded dY, only
        the kernel rows that reach dY) or "columns" (W^T dY, then col2im; any stride),
        whichever costs less, counting a col2im add as COL2IM_ADD lane products."""
        (kh, kw), (sh, sw) = self.p.kernel, self.p.strides
        (ph, pw), (dh, dw) = self.p.pads, self.p.dilations
        (oh, ow), m, dt = self.out_hw, self.p.num_output, self.dtype
        qh, qw = dh * (kh - 1) - ph, dw * (kw - 1) - pw      # dY's padding for "full"
        k, pixels = c * kh * kw, oh * ow
        self._dx_full = (sh, sw) == (1, 1) and qh >= 0 and qw >= 0
        if self._dx_full:
            spans = dc.tap_spans(h, w, oh, kh, 1, qh, dh, m * kw)
            full = int((spans[:, 1] - spans[:, 0]).sum()) * dc.ROWS * -(-c // lanes) * lanes
            columns = k * -(-pixels // lanes) * lanes * m + COL2IM_ADD * k * pixels
            self._dx_full = full <= columns
        if self._dx_full:
            hq, wq = oh + 2 * qh, ow + 2 * qw
            self._dx_pad = (qh, qw)
            self._offs_dx = dc.tap_offsets(m, kh, kw, dh, dw, hq, wq, row_major=True)
            self._spans_dx = spans
            self._rows_dx = dc.pixel_offsets(h, w, wq)
            self._panels_dx = np.zeros(-(-c // lanes) * self._offs_dx.size * lanes, dt)
            self._dypad = self._each(m * hq * wq)
            self._stage = self._each(max(self._out_rows.size, self._rows_dx.size) * lanes)
        else:
            blocks = -(-pixels // lanes)
            self._taps_dx = dc.pad_rows(np.arange(k, dtype=np.int64))
            self._channels_dx = np.arange(m, dtype=np.int64) * k
            self._dypanel_dx = self._each(blocks * m * lanes)
            self._columns = self._each(blocks * self._taps_dx.size * lanes)
            self._stage = self._each(self._out_rows.size * lanes)

    def _each(self, size):
        """One zeroed buffer per thread."""
        return [np.zeros(size, self.dtype) for _ in range(self._parts)]

    def _forward_direct(self, bottom, top):
        x, (ph, pw) = bottom[0].data, self.p.pads
        m = self.p.num_output
        y = top[0].data.reshape(self._top_shape[0], m, -1)
        dc.panel_weights(self.blobs[0].data, self._panels)
        bias = self.blobs[1].data if self.p.bias_term else self._no_bias

        def work(t):
            n0, n1 = self._ranges[t]
            dc.conv_forward(x, n0, n1, ph, pw, self._out_rows, self._offs, self._spans,
                            self._panels, bias, self.p.bias_term, self._xpad[t],
                            self._stage[t], y)

        run_parallel(work, self._parts)

    def _backward_direct(self, top, propagate_down, bottom):
        x, (ph, pw) = bottom[0].data, self.p.pads
        n, m = self._top_shape[:2]
        dy = top[0].diff
        dy3 = dy.reshape(n, m, -1)
        dx = bottom[0].diff
        if propagate_down[0] and self._dx_full:
            dc.panel_weights_flipped(self.blobs[0].data, self._panels_dx)

        def work(t):
            n0, n1 = self._ranges[t]
            self._wsum[t][...] = 0
            self._bsum[t][...] = 0
            dc.conv_weight_grad(x, dy3, n0, n1, ph, pw, self._taps, self._out_pixels,
                                self._xpad[t], self._dypanel[t], self._acc[t], self._wsum[t],
                                self._bsum[t], self.p.bias_term)
            if propagate_down[0]:
                self._data_grad(t, n0, n1, dy, dx)

        run_parallel(work, self._parts)
        wd = self.blobs[0].diff.reshape(m, -1)
        for t in range(self._parts):
            dc.unpanel_add(self._wsum[t], self._offs.size, wd)
            if self.p.bias_term:
                np.add(self.blobs[1].diff, self._bsum[t], out=self.blobs[1].diff)

    def _data_grad(self, t, n0, n1, dy, dx):
        if self._dx_full:
            qh, qw = self._dx_pad
            dc.conv_forward(dy, n0, n1, qh, qw, self._rows_dx, self._offs_dx, self._spans_dx,
                            self._panels_dx, self._no_bias, False, self._dypad[t],
                            self._stage[t], dx.reshape(dx.shape[0], dx.shape[1], -1))
        else:
            dc.conv_data_grad_columns(dy, n0, n1, self.blobs[0].data.reshape(-1),
                                      self._taps_dx, self._channels_dx, *self._geometry()[:8],
                                      self._dypanel_dx[t], self._columns[t], dx)

    def _forward_im2col(self, bottom, top):
        x, geo = bottom[0].data, self._geometry()
        m = self.p.num_output
        out = top[0].data.reshape(self._top_shape[0], m, -1)
        w = self.blobs[0].data.reshape(m, -1)
        bias = self.blobs[1].data if self.p.bias_term else self._no_bias
        mg, rg = m // self.p.group, self._rows // self.p.group

        def work(t):
            for i in range(t, self._chunks, self._parts):
                n0, n1, col, y = self._chunk(t, i, self._keep)
                im2col(x[n0:n1], *geo, col)
                self._gemm(w, col, y, mg, rg)
                rows_to_nchw(y, bias, self.p.bias_term, out[n0:n1])

        run_parallel(work, self._parts)

    def _backward_im2col(self, top, propagate_down, bottom):
        x, geo = bottom[0].data, self._geometry()
        n, m = self._top_shape[:2]
        dy = top[0].diff.reshape(n, m, -1)
        w = self.blobs[0].data.reshape(m, -1)
        g = self.p.group
        mg, rg = m // g, self._rows // g

        def work(t):
            wsum, bsum, wtmp = self._wsum[t], self._bsum[t], self._wtmp[t]
            wsum[...] = 0
            bsum[...] = 0
            for i in range(t, self._chunks, self._parts):
                n0, n1, col, dyr = self._chunk(t, i, self._keep)
                if not self._keep:
                    im2col(x[n0:n1], *geo, col)      # recomputed, as Caffe does
                nchw_to_rows_bias_grad(dy[n0:n1], dyr, bsum, self.p.bias_term)
                for gi in range(g):                   # dW_g = dY_g @ col_g^T
                    np.matmul(dyr[gi * mg:(gi + 1) * mg], col[gi * rg:(gi + 1) * rg].T,
                              out=wtmp[gi * mg:(gi + 1) * mg])
                np.add(wsum, wtmp, out=wsum)
                if propagate_down[0]:
                    dcol = self._chunk(t, i)[2] if self._keep else col
                    self._gemm(w, dyr, dcol, mg, mg, transpose_a=True)  # W_g^T dY_g
                    col2im(dcol, *geo, bottom[0].diff[n0:n1])

        run_parallel(work, self._parts)
        wd = self.blobs[0].diff.reshape(m, -1)
        for t in range(self._parts):
            np.add(wd, self._wsum[t], out=wd)
            if self.p.bias_term:
                np.add(self.blobs[1].diff, self._bsum[t], out=self.blobs[1].diff)

    def _plan(self, n, rows, pixels):
        """Chunks of `per` images whose patches (rows x per*pixels) fit in ~L2, handed out
        round-robin to `parts` threads; per-thread buffers, so each thread writes only its
        own (col, product, weight and bias gradient partial sums)."""
        item = self.dtype.itemsize
        per = max(1, min(n, CHUNK_BYTES // max(rows * pixels * item, 1)))
        chunks = -(-n // per)
        self._parts = max(1, min(self.runtime.threads, chunks))
        chunks = -(-chunks // self._parts) * self._parts   # a multiple of the threads, and
        self._per = -(-n // chunks)                         # even chunks: balanced threads
        self._chunks = -(-n // self._per)
        m, width = self.p.num_output, self._per * pixels
        self._col = [np.empty(rows * width, self.dtype) for _ in range(self._parts)]
        self._y = [np.empty(m * width, self.dtype) for _ in range(self._parts)]
        self._rows = rows
        # Training nets whose patches are small keep every chunk's from forward for backward
        # (reading them back is cheaper than im2col again); large ones recompute, as Caffe.
        self._keep = (self.phase == "TRAIN" and
                      n * rows * pixels * item <= KEEP_BYTES and self._chunks > 1)
        self._kept = (np.empty(self._chunks * rows * width, self.dtype) if self._keep
                      else None)
        wshape = (m, rows // self.p.group)
        self._wtmp = [np.empty(wshape, self.dtype) for _ in range(self._parts)]
        self._wsum = [np.empty(wshape, self.dtype) for _ in range(self._parts)]
        self._bsum = [np.empty(m, self.dtype) for _ in range(self._parts)]
        self._pixels = pixels

    def _chunk(self, t, i, kept=False):
        """Images [n0, n1) of chunk i and contiguous (col, product) views: thread t's
        buffers, or with `kept` the patches forward kept for chunk i."""
        n0 = i * self._per
        n1 = min(n0 + self._per, self._top_shape[0])
        width = (n1 - n0) * self._pixels
        size = self._rows * width
        if kept:
            start = i * self._rows * self._per * self._pixels
            col = self._kept[start:start + size].reshape(self._rows, width)
        else:
            col = self._col[t][:size].reshape(self._rows, width)
        y = self._y[t][:self.p.num_output * width].reshape(self.p.num_output, width)
        return n0, n1, col, y

    def _geometry(self):
        (kh, kw), (sh, sw) = self.p.kernel, self.p.strides
        (ph, pw), (dh, dw) = self.p.pads, self.p.dilations
        return kh, kw, sh, sw, ph, pw, dh, dw, self.out_hw[0], self.out_hw[1]

    def _gemm(self, a, b, out, a_rows_per_group, b_rows_per_group, transpose_a=False,
              transpose_b=False):
        """out = a @ b per group (row blocks of a, b and out)."""
        g = self.p.group
        if g == 1:
            np.matmul(a.T if transpose_a else a, b.T if transpose_b else b, out=out)
            return
        ra, rb, ro = a_rows_per_group, b_rows_per_group, out.shape[0] // g
        for i in range(g):
            ai, bi = a[i * ra:(i + 1) * ra], b[i * rb:(i + 1) * rb]
            np.matmul(ai.T if transpose_a else ai, bi.T if transpose_b else bi,
                      out=out[i * ro:(i + 1) * ro])

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
