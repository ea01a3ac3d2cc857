"""InnerProduct (fully connected): y = x W^T + b.

x is (N, K) after flattening the axes from `axis` on; W is (num_output, K) as in Caffe
(or (K, num_output) with `transpose: true`); b is (num_output,).
Gradients: dW += dy^T x, db += sum_n dy, dx = dy W.

    - {name: ip1, type: InnerProduct, bottom: data, top: ip1, num_output: 500,
       weight_filler: {type: xavier}}
"""
from dataclasses import dataclass, field

import numpy as np

from ..config.schema import bounded
from ..fillers import FillerSpec
from ..kernels.cpu.inner_product import accumulate, accumulate_bias_grad, add_bias
from ..kernels.cpu.threads import SPLIT_FLOPS, matmul, run_parallel
from ..layer import Layer
from ..registry import register_layer


@register_layer("InnerProduct")
class InnerProduct(Layer):
    @dataclass
    class Params:
        num_output: int = bounded(0, lo=1)
        bias_term: bool = True
        weight_filler: FillerSpec = field(default_factory=lambda: FillerSpec("xavier"))
        bias_filler: FillerSpec = field(default_factory=FillerSpec)
        axis: int = 1
        transpose: bool = False

        def __post_init__(self):
            if self.num_output < 1:
                raise ValueError("InnerProduct needs 'num_output' >= 1")

    def setup(self, bottom, top):
        shape = bottom[0].shape
        axis = self.p.axis + len(shape) if self.p.axis < 0 else self.p.axis
        if not 0 <= axis < max(len(shape), 1):
            raise self.shape_error(f"axis {self.p.axis} out of range for bottom "
                                   f"'{bottom[0].name}' of shape {list(shape)}")
        self.axis = axis
        self.K = int(np.prod(shape[axis:], dtype=np.int64))
        wshape = (self.K, self.p.num_output) if self.p.transpose else (self.p.num_output, self.K)
        self.add_param(wshape, self.p.weight_filler)
        if self.p.bias_term:
            self.add_param((self.p.num_output,), self.p.bias_filler)
        self._wgrad = np.zeros(wshape, self.dtype)   # dW of one batch, added into the diff

    def reshape(self, bottom, top):
        shape = bottom[0].shape
        K = int(np.prod(shape[self.axis:], dtype=np.int64))
        if K != self.K:
            raise self.shape_error(f"bottom '{bottom[0].name}' of shape {list(shape)} has "
                                   f"{K} inputs per item from axis {self.axis}; "
                                   f"the weights expect {self.K}")
        self.M = int(np.prod(shape[:self.axis], dtype=np.int64))
        top[0].reshape(shape[:self.axis] + (self.p.num_output,))

    def forward_cpu(self, bottom, top):
        x = bottom[0].data.reshape(self.M, self.K)
        y = top[0].data.reshape(self.M, self.p.num_output)
        w = self.blobs[0].data
        matmul(x, w if self.p.transpose else w.T, y, self.runtime.product_parts)
        if self.p.bias_term:
            add_bias(y, self.blobs[1].data)

    def backward_cpu(self, top, propagate_down, bottom):
        dy = top[0].diff.reshape(self.M, self.p.num_output)
        x = bottom[0].data.reshape(self.M, self.K)
        w = self.blobs[0]

        parts = self.runtime.product_parts

        def param_grads(parts=parts):
            if self.p.transpose:
                matmul(x.T, dy, self._wgrad, parts)
            else:
                matmul(dy.T, x, self._wgrad, parts)
            accumulate(self._wgrad.reshape(-1), w.diff.reshape(-1))
            if self.p.bias_term:
                accumulate_bias_grad(dy, self.blobs[1].diff)

        def data_grad(parts=parts):
            dx = bottom[0].diff.reshape(self.M, self.K)
            matmul(dy, w.data.T if self.p.transpose else w.data, dx, parts)

        if propagate_down[0] and parts >= 2 and 2.0 * dy.size * self.K >= SPLIT_FLOPS:
            # the two products are the same size: each gets half the threads (whole, at 2:
            # splitting each into slabs gained nothing on LeNet's ip1, whose K = 64 product
            # is short)
            half = parts // 2
            run_parallel(lambda t: data_grad(parts - half) if t else param_grads(half), 2)
            return
        param_grads()                  # threads.matmul: slabs over the threads if large
        if propagate_down[0]:
            data_grad()

    def forward_gpu(self, bottom, top):
        """y = x W^T (or x W with `transpose`) by the tiled GEMM, then the bias."""
        x = bottom[0].gpu_data.reshape(self.M, self.K)
        y = top[0].mutable_gpu_data.reshape(self.M, self.p.num_output)
        self.device.kernels("gemm").gemm(x, self.blobs[0].gpu_data, y,
                                         trans_b=not self.p.transpose)
        if self.p.bias_term:
            self.device.kernels("inner_product").add_bias(y, self.blobs[1].gpu_data)

    def backward_gpu(self, top, propagate_down, bottom):
        """dW += dy^T x (x^T dy transposed) straight into the diff (beta = 1), db += the
        column sums of dy, dx = dy W (dy W^T)."""
        gemm = self.device.kernels("gemm")
        dy = top[0].gpu_diff.reshape(self.M, self.p.num_output)
        x = bottom[0].gpu_data.reshape(self.M, self.K)
        w = self.blobs[0]
        if self.p.transpose:
            gemm.gemm(x, dy, w.mutable_gpu_diff, trans_a=True, beta=1.0)
        else:
            gemm.gemm(dy, x, w.mutable_gpu_diff, trans_a=True, beta=1.0)
        if self.p.bias_term:
            self.device.kernels("inner_product").accumulate_bias_grad(
                dy, self.blobs[1].mutable_gpu_diff)
        if propagate_down[0]:
            gemm.gemm(dy, w.gpu_data, bottom[0].mutable_gpu_diff.reshape(self.M, self.K),
                      trans_b=self.p.transpose)

    def to_onnx(self, g, x, y, bottom, top):
        if self.axis != 1:
            raise g.error(self, f"InnerProduct with axis {self.p.axis} is not exported "
                                "(axis 1 only)")
        flat, name = x[0], self.name
        if bottom[0].ndim != 2:
            flat = g.fresh(f"{name}_flat")
            g.node("Flatten", x, [flat], f"{name}_flatten", axis=1)
        inputs = [flat] + [g.const(f"{name}_{k}", b.cpu_data) for k, b in zip("Wb", self.blobs)]
        g.node("Gemm", inputs, y, name, transB=0 if self.p.transpose else 1)
