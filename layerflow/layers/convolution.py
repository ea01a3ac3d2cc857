"""Convolution (Caffe's): y[n, m] = b[m] + sum_c W[m, c] (*) x[n, g*C/G + c] over the group g
of output m, with kernel (kh, kw), stride, zero padding and dilation.

Output size: OH = (H + 2 ph - (dh (kh - 1) + 1)) // sh + 1 (OW alike).
Weights W: (num_output, C / group, kh, kw); bias b: (num_output,), Caffe's layouts.

Two ways of computing it, chosen in reshape:
- direct (ungrouped): register-tiled kernels with explicit vectors
  (kernels/cpu/direct_conv.py) for forward, weight gradient and data gradient; their tile
  shapes and the data gradient's way are chosen for the CPU and the shape by measuring,
  once per machine (kernels/cpu/conv_plan.py, LAYERFLOW_TUNE=0 for a fixed default);
  each thread takes a contiguous range of images.
- im2col (groups, strides, larger pads): chunks of a few images whose patches fit in about
  an L2 cache: im2col of the chunk, col (C kh kw, n OH OW), then one matrix product per
  group, Y = W_g @ col_g, moved into NCHW with the bias added in the same pass; the chunks
  are shared out among the threads (each with its own buffers). Gradients with dY as
  (M, n OH OW): dW_g += dY_g @ col_g^T, db += sum over n and pixels of dy,
  dx = col2im(W_g^T @ dY_g); the patches are kept from forward when a training layer's
  total at most 16 MB, else recomputed per chunk as Caffe does.

    - {name: conv1, type: Convolution, bottom: data, top: conv1, num_output: 20,
       kernel_size: 5, stride: 1, weight_filler: {type: xavier}}
"""
from dataclasses import dataclass, field

import numpy as np

from ..config.schema import bounded
from ..fillers import FillerSpec
from ..kernels.cpu import conv_plan
from ..kernels.cpu.conv_plan import ConvShape
from ..kernels.cpu.im2col import col2im, im2col, nchw_to_rows_bias_grad, rows_to_nchw
from ..kernels.cpu.threads import num_threads, run_parallel
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
        threads = num_threads()
        if self._direct:
            s = ConvShape(n, c, h, w, self.p.num_output, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
            choice, self._plan_how = conv_plan.choose(s, self.dtype, threads, self.p.bias_term)
            self._plan = conv_plan.Direct(s, self.dtype, threads, choice)
        else:
            self._plan = None
            self._plan_im2col(n, c * kh * kw, oh * ow, threads)
        self._shape = shape

    def forward_cpu(self, bottom, top):
        if self._direct:
            self._forward_direct(bottom, top)
        else:
            self._forward_im2col(bottom, top)

    def backward_cpu(self, top, propagate_down, bottom):
        if self._direct:
            self._backward_direct(top, propagate_down, bottom)
        else:
            self._backward_im2col(top, propagate_down, bottom)

    def _forward_direct(self, bottom, top):
        bias = self.blobs[1].data if self.p.bias_term else self._no_bias
        self._plan.forward(bottom[0].data, self.blobs[0].data, bias, self.p.bias_term,
                           top[0].data)

    def _backward_direct(self, top, propagate_down, bottom):
        bias_diff = self.blobs[1].diff if self.p.bias_term else self._no_bias
        self._plan.backward(bottom[0].data, top[0].diff, self.blobs[0].data,
                            propagate_down[0], bottom[0].diff, self.blobs[0].diff, bias_diff,
                            self.p.bias_term)

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

    def _plan_im2col(self, n, rows, pixels, threads):
        """Chunks of `per` images whose patches (rows x per*pixels) fit in ~L2, handed out
        round-robin to `parts` threads; per-thread buffers, so each thread writes only its
        own (col, product, weight and bias gradient partial sums)."""
        item = self.dtype.itemsize
        per = max(1, min(n, CHUNK_BYTES // max(rows * pixels * item, 1)))
        chunks = -(-n // per)
        self._parts = max(1, min(threads, chunks))
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
