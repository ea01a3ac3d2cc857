"""Deconvolution (Caffe's; transposed convolution): the adjoint of Convolution's data
gradient. With x as rows X(C, N H W) and W_g (C/G, M/G kh kw) per group,
col_g = W_g^T @ X_g and y = col2im(col) + b; output size
OH = sh (H - 1) + dh (kh - 1) + 1 - 2 ph (OW alike).
Weights W: (C, num_output / group, kh, kw); bias b: (num_output,), Caffe's layouts.
Gradients: with col' = im2col(dy), dW_g += X_g @ col'_g^T, db += sum of dy over n and
pixels, dx = rows^-1(W_g @ col'_g).

    - {name: up2, type: Deconvolution, bottom: score, top: up2, num_output: 21,
       kernel_size: 4, stride: 2, bias_term: false, weight_filler: {type: bilinear}}
"""
import numpy as np

from ..kernels.cpu.im2col import (add_channel_bias, channel_sum, col2im, im2col, nchw_to_rows,
                                  rows_to_nchw)
from ..kernels.cpu.threads import matmul
from ..layer import Layer
from ..registry import register_layer
from .convolution import ConvParams, conv_node, setup_conv_params


def deconv_out_size(size, k, s, p, d):
    return s * (size - 1) + d * (k - 1) + 1 - 2 * p


@register_layer("Deconvolution")
class Deconvolution(Layer):
    Params = ConvParams
    own_threads = True

    def setup(self, bottom, top):
        setup_conv_params(self, bottom, lambda c, g, kh, kw: (c, self.p.num_output // g, kh, kw))

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
        oh, ow = deconv_out_size(h, kh, sh, ph, dh), deconv_out_size(w, kw, sw, pw, dw)
        if oh < 1 or ow < 1:
            raise self.shape_error(
                f"pad {ph}x{pw} is too large for bottom '{bottom[0].name}' of shape "
                f"{list(shape)} with kernel {kh}x{kw}, stride {sh}x{sw}: output would be "
                f"{oh}x{ow}")
        self.out_hw = (oh, ow)
        self._top_shape = (n, self.p.num_output, oh, ow)
        top[0].reshape(self._top_shape)
        rows = self.p.num_output * kh * kw
        self._x = np.empty((c, n * h * w), self.dtype)       # bottom (data or diff) as rows
        self._col = np.empty((rows, n * h * w), self.dtype)  # patches of the top
        self._wgrad = np.empty((c, rows // self.p.group), self.dtype)
        if self.device is not None:        # CUDA mode: the top's patches, on the device
            self._col_gpu = self.device.zeros(rows * n * h * w, self.dtype).reshape(
                rows, n * h * w)
        self._shape = shape

    def forward_cpu(self, bottom, top):
        n, c = self._shape[:2]
        nchw_to_rows(bottom[0].data.reshape(n, c, -1), self._x)
        w = self.blobs[0].data.reshape(c, -1)
        g = self.p.group
        cg, rg = c // g, self._col.shape[0] // g
        for i in range(g):
            matmul(w[i * cg:(i + 1) * cg].T, self._x[i * cg:(i + 1) * cg],
                   self._col[i * rg:(i + 1) * rg], self.runtime.product_parts)
        col2im(self._col, *self._geometry(), top[0].data)
        if self.p.bias_term:
            add_channel_bias(top[0].data.reshape(n, self.p.num_output, -1), self.blobs[1].data)

    def backward_cpu(self, top, propagate_down, bottom):
        n, c = self._shape[:2]
        m = self.p.num_output
        if self.p.bias_term:
            channel_sum(top[0].diff.reshape(n, m, -1), self.blobs[1].diff)
        im2col(top[0].diff, *self._geometry(), self._col)
        nchw_to_rows(bottom[0].data.reshape(n, c, -1), self._x)
        w = self.blobs[0]
        wd = w.diff.reshape(c, -1)
        wm = w.data.reshape(c, -1)
        g = self.p.group
        cg, rg = c // g, self._col.shape[0] // g
        for i in range(g):
            cs, rs = slice(i * cg, (i + 1) * cg), slice(i * rg, (i + 1) * rg)
            matmul(self._x[cs], self._col[rs].T, self._wgrad[cs], self.runtime.product_parts)
        np.add(wd, self._wgrad, out=wd)
        if propagate_down[0]:
            for i in range(g):
                cs, rs = slice(i * cg, (i + 1) * cg), slice(i * rg, (i + 1) * rg)
                matmul(wm[cs], self._col[rs], self._x[cs], self.runtime.product_parts)
            rows_to_nchw(self._x, self._no_bias, False, bottom[0].diff.reshape(n, c, -1))

    def forward_gpu(self, bottom, top):
        """col_g[:, n] = W_g^T x[n, g] by the strided GEMM (x read in NCHW), then col2im."""
        n, c, h, w = self._shape
        m, g, hw = self.p.num_output, self.p.group, h * w
        rows = self._col_gpu.shape[0]
        cg, rg = c // g, rows // g
        im2col, gemm = self.device.kernels("im2col"), self.device.kernels("gemm")
        x = bottom[0].gpu_data.reshape(bottom[0].count)
        wf = self.blobs[0].gpu_data.reshape(self.blobs[0].count)
        col = self._col_gpu.reshape(self._col_gpu.size)
        for gi in range(g):
            gemm.gemm_strided(rg, hw, cg, wf[gi * cg * rg:], (0, 1, 0, rg),
                              x[gi * cg * hw:], (c * hw, 0, hw, 1),
                              col[gi * rg * n * hw:], (hw, n * hw, 1), batch=n)
        y = top[0].mutable_gpu_data
        im2col.col2im(self._col_gpu, *self._geometry(), y)
        if self.p.bias_term:
            im2col.add_channel_bias(y.reshape(n, m, -1), self.blobs[1].gpu_data)

    def backward_gpu(self, top, propagate_down, bottom):
        n, c, h, w = self._shape
        m, g, hw = self.p.num_output, self.p.group, h * w
        rows = self._col_gpu.shape[0]
        cg, rg = c // g, rows // g
        im2col, gemm = self.device.kernels("im2col"), self.device.kernels("gemm")
        dy = top[0].gpu_diff
        if self.p.bias_term:
            im2col.channel_sum(dy.reshape(n, m, -1), self.blobs[1].mutable_gpu_diff)
        im2col.im2col(dy, *self._geometry(), self._col_gpu)
        col = self._col_gpu.reshape(self._col_gpu.size)
        x = bottom[0].gpu_data.reshape(bottom[0].count)
        dw = self.blobs[0].mutable_gpu_diff
        dwf = dw.reshape(dw.size)
        for gi in range(g):          # dW_g += sum_n x[n, g] col_g[:, n]^T (images in k)
            gemm.gemm_strided(cg, rg, n * hw, x[gi * cg * hw:], (0, hw, c * hw, 1),
                              col[gi * rg * n * hw:], (0, hw, 1, n * hw),
                              dwf[gi * cg * rg:], (0, rg, 1), kp=hw, beta=1.0)
        if not propagate_down[0]:
            return
        wf = self.blobs[0].gpu_data.reshape(self.blobs[0].count)
        dx = bottom[0].mutable_gpu_diff
        dxf = dx.reshape(dx.size)
        for gi in range(g):          # dx[n, g] = W_g col_g[:, n]
            gemm.gemm_strided(cg, hw, rg, wf[gi * cg * rg:], (0, rg, 0, 1),
                              col[gi * rg * n * hw:], (hw, 0, n * hw, 1),
                              dxf[gi * cg * hw:], (c * hw, hw, 1), batch=n)

    def _geometry(self):
        (kh, kw), (sh, sw) = self.p.kernel, self.p.strides
        (ph, pw), (dh, dw) = self.p.pads, self.p.dilations
        return kh, kw, sh, sw, ph, pw, dh, dw, self._shape[2], self._shape[3]

    def to_onnx(self, g, x, y, bottom, top):
        conv_node(self, g, x, y, "ConvTranspose")
