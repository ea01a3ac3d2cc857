"""BatchNorm: y = (x - mean) / sqrt(var + eps) per channel (axis 1), Caffe's layer.

With batch statistics (TRAIN by default), mean and var are the biased moments of x over
the batch and spatial axes (m = count / channels values per channel), and the gradient is
    dx = (dy - mean(dy) - y * mean(dy * y)) / sqrt(var + eps).
With global statistics (TEST by default, or `use_global_stats: true`), the stored averages
are used and dx = dy / sqrt(var + eps).

Three blobs as in Caffe, never learned (their lr_mult is 0, and a config may not set another):
running sums of the mean (C,), of the unbiased variance (C,), and their weight (1,). Each
TRAIN forward with batch statistics updates them:
    factor = f * factor + 1;  mean_sum = f * mean_sum + mean;  var_sum = f * var_sum + m/(m-1) var
with f = moving_average_fraction, and the global statistics are mean_sum / factor and
var_sum / factor. (As in Caffe, any forward with batch statistics updates them, whatever the
phase.) The learnable affine part is a separate Scale layer (bias_term: true).
Runs in place; it keeps its own copy of the normalized output for backward.

    - {name: bn1, type: BatchNorm, bottom: conv1, top: conv1}
    - {name: scale1, type: Scale, bottom: conv1, top: conv1, bias_term: true}
"""
from dataclasses import dataclass

import numpy as np

from ..config.schema import bounded
from ..config.specs import ParamSpec
from ..kernels.cpu.batch_norm import (batch_norm_backward_inplace_parts,
                                      batch_norm_backward_parts, channel_mean_var_parts,
                                      global_stats, inv_std_of, normalize, normalize_inplace,
                                      normalize_save, normalize_save_inplace,
                                      scale_by_channel, scale_by_channel_inplace,
                                      update_running, fold_coefficients, affine_relu_rows,
                                      affine_relu_rows_inplace)
from ..kernels.cpu.eltwise import parts_for
from ..kernels.cpu.threads import run_parallel
from ..layer import Layer
from ..registry import register_layer


FOLD_SPLIT = 1 << 21     # values from which the folded pass is cut over the threads (the
                         # Python pool: waking it costs ~40 us, not the ~0.4 ms of Numba's)


@register_layer("BatchNorm")
class BatchNorm(Layer):
    @dataclass
    class Params:
        use_global_stats: bool | None = None     # default: False in TRAIN, True in TEST
        moving_average_fraction: float = bounded(0.999, lo=0.0, hi=1.0)
        eps: float = bounded(1e-5, lo=0.0)

    in_place = True
    need_backward = True    # the Net's call: False where backward never runs (no xnorm kept)

    def setup(self, bottom, top):
        shape = bottom[0].shape
        if len(shape) < 2:
            raise self.shape_error(f"bottom '{bottom[0].name}' must have a channel axis "
                                   f"(N, C, ...), got shape {list(shape)}")
        self.use_global = (self.phase == "TEST" if self.p.use_global_stats is None
                           else self.p.use_global_stats)
        self.channels = shape[1]
        for blob_shape in ((self.channels,), (self.channels,), (1,)):
            self.add_param(blob_shape)           # zeros, as Caffe
        for i in range(3):
            if i == len(self.param_specs):
                self.param_specs.append(ParamSpec(lr_mult=0.0, decay_mult=0.0))
            elif self.param_specs[i].lr_mult != 0:
                raise self.shape_error("the statistics blobs of BatchNorm cannot be learned: "
                                       f"param {i} must have lr_mult 0, got "
                                       f"{self.param_specs[i].lr_mult}")
        self.mean = np.zeros(self.channels)     # float64 statistics
        self.var = np.zeros(self.channels)
        self.inv_std = np.zeros(self.channels)
        self._mean_t = np.zeros(self.channels, self.dtype)    # the same in the data's dtype,
        self._inv_std_t = np.zeros(self.channels, self.dtype)  # so float32 loops stay float32
        self.xnorm = np.zeros(0, self.dtype)
        self._no_values = np.zeros(0, self.dtype)
        self._fold_a = np.zeros(self.channels, self.dtype)     # forward_folded's y = a x + b
        self._fold_b = np.zeros(self.channels, self.dtype)
        self._shape = None
        if self.device is not None:     # the same buffers on the device (statistics float64)
            z = self.device.zeros
            c = self.channels
            self._dev = {"mean": z(c, np.float64), "var": z(c, np.float64),
                         "inv_std": z(c, np.float64), "mean_t": z(c, self.dtype),
                         "inv_std_t": z(c, self.dtype)}
            self.xnorm_gpu = z(0, self.dtype)

    def reshape(self, bottom, top):
        shape = bottom[0].shape
        if len(shape) < 2 or shape[1] != self.channels:
            raise self.shape_error(f"bottom '{bottom[0].name}' of shape {list(shape)} must "
                                   f"have {self.channels} channels on axis 1")
        top[0].reshape(shape)
        if shape != self._shape:
            self._shape = shape
            self._view = (shape[0], shape[1], bottom[0].count // max(shape[0] * shape[1], 1))
            self._parts = parts_for(self.runtime.threads, bottom[0].count)
            self._sums = np.zeros((self._parts, 2, self.channels))   # per-thread sums
            self._fold_parts = (max(1, min(self.runtime.threads, shape[0] * shape[1]))
                                if bottom[0].count >= FOLD_SPLIT else 1)
            if not self.use_global and self.xnorm.size != bottom[0].count:
                self.xnorm = np.zeros(bottom[0].count, self.dtype)
            if (self.device is not None and not self.use_global
                    and self.xnorm_gpu.size != bottom[0].count):
                self.xnorm_gpu = self.device.zeros(bottom[0].count, self.dtype)

    def forward_cpu(self, bottom, top):
        x = bottom[0].data.reshape(self._view)
        y = top[0].data.reshape(self._view)
        in_place = top[0] is bottom[0]
        if self.use_global:
            global_stats(self.blobs[0].data, self.blobs[1].data, self.blobs[2].data,
                         self.p.eps, self.mean, self.inv_std)
            mean, inv_std = self._in_dtype()
            if in_place:
                normalize_inplace(y, mean, inv_std, self._parts)
            else:
                normalize(x, mean, inv_std, y, self._parts)
            return
        channel_mean_var_parts(x, self.mean, self.var, self._sums)
        update_running(self.mean, self.var, self._view[0] * self._view[2],
                       self.p.moving_average_fraction,
                       self.blobs[0].data, self.blobs[1].data, self.blobs[2].data)
        inv_std_of(self.var, self.p.eps, self.inv_std)
        xnorm = self.xnorm.reshape(self._view)
        mean, inv_std = self._in_dtype()
        if not self.need_backward:
            if in_place:
                normalize_inplace(y, mean, inv_std, self._parts)
            else:
                normalize(x, mean, inv_std, y, self._parts)
        elif in_place:
            normalize_save_inplace(y, mean, inv_std, xnorm, self._parts)
        else:
            normalize_save(x, mean, inv_std, y, xnorm, self._parts)

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        dy = top[0].diff.reshape(self._view)
        dx = bottom[0].diff.reshape(self._view)
        in_place = top[0] is bottom[0]
        if self.use_global:
            if in_place:
                scale_by_channel_inplace(dx, self._inv_std_t)
            else:
                scale_by_channel(dy, self._inv_std_t, dx)
        elif in_place:
            batch_norm_backward_inplace_parts(self.xnorm.reshape(self._view), dx, self.inv_std,
                                              self._sums)
        else:
            batch_norm_backward_parts(self.xnorm.reshape(self._view), dy, self.inv_std, dx,
                                      self._sums)

    def forward_gpu(self, bottom, top):
        k, d = self.device.kernels("batch_norm"), self._dev
        in_place = top[0] is bottom[0]
        x = bottom[0].gpu_data.reshape(self._view)
        y = top[0].mutable_gpu_data.reshape(self._view)
        b = self.blobs
        if self.use_global:
            k.global_stats(b[0].gpu_data, b[1].gpu_data, b[2].gpu_data, self.p.eps, d["mean"],
                           d["inv_std"])
        else:
            k.channel_mean_var(x, d["mean"], d["var"])
            k.update_running(d["mean"], d["var"], self._view[0] * self._view[2],
                             self.p.moving_average_fraction, b[0].mutable_gpu_data,
                             b[1].mutable_gpu_data, b[2].mutable_gpu_data)
            k.inv_std_of(d["var"], self.p.eps, d["inv_std"])
        copy = self.device.kernels("eltwise").scale_into       # float64 -> the data's dtype
        copy(d["mean"], 1.0, d["mean_t"])
        copy(d["inv_std"], 1.0, d["inv_std_t"])
        if self.use_global:
            if in_place:
                k.normalize_inplace(y, d["mean_t"], d["inv_std_t"])
            else:
                k.normalize(x, d["mean_t"], d["inv_std_t"], y)
            return
        xnorm = self.xnorm_gpu.reshape(self._view)
        if in_place:
            k.normalize_save_inplace(y, d["mean_t"], d["inv_std_t"], xnorm)
        else:
            k.normalize_save(x, d["mean_t"], d["inv_std_t"], y, xnorm)

    def backward_gpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        k, d = self.device.kernels("batch_norm"), self._dev
        dy = top[0].gpu_diff.reshape(self._view)
        dx = bottom[0].mutable_gpu_diff.reshape(self._view)
        in_place = top[0] is bottom[0]
        if self.use_global:
            if in_place:
                k.scale_by_channel_inplace(dx, d["inv_std_t"])
            else:
                k.scale_by_channel(dy, d["inv_std_t"], dx)
        elif in_place:
            k.batch_norm_backward_inplace(self.xnorm_gpu.reshape(self._view), dx, d["inv_std"])
        else:
            k.batch_norm_backward(self.xnorm_gpu.reshape(self._view), dy, d["inv_std"], dx)

    def forward_folded(self, bottom, top, scale, relu):
        """forward with global statistics, then `scale` (an in-place Scale on the channel
        axis, or None) and `relu` (an in-place ReLU, or None) on its top, as one pass:
        y = a x + b per channel, then the ReLU. The Net runs this where none of the three
        runs backward (a forward-only net), as inference engines fold these layers: each
        layer's own forward gives the same values up to float rounding."""
        a, b, on, slope = self.fold(scale, relu)
        rows, size = self._view[0] * self._view[1], self._view[2]
        yf = top[0].data.reshape(-1)
        parts = self._fold_parts
        if top[0] is bottom[0]:
            run_parallel(lambda t: affine_relu_rows_inplace(
                yf, a, b, on, slope, self.channels, size, t * rows // parts,
                (t + 1) * rows // parts), parts)
        else:
            xf = bottom[0].data.reshape(-1)
            run_parallel(lambda t: affine_relu_rows(
                xf, yf, a, b, on, slope, self.channels, size, t * rows // parts,
                (t + 1) * rows // parts), parts)

    def fold(self, scale, relu):
        """(a, b, relu, slope): this layer with global statistics and then `scale` and
        `relu` (as in forward_folded) are y = a x + b per channel, then the ReLU with
        `slope` when `relu` is True. a and b are this layer's buffers, made again by each
        call (a convolution that runs them on its output adds its bias into b)."""
        gamma = beta = self._no_values
        if scale is not None:
            gamma = scale.blobs[0].data
            beta = scale.blobs[1].data if scale.p.bias_term else beta
        global_stats(self.blobs[0].data, self.blobs[1].data, self.blobs[2].data,
                     self.p.eps, self.mean, self.inv_std)
        fold_coefficients(self.mean, self.inv_std, gamma, beta, self._fold_a, self._fold_b)
        slope = relu.slope if relu is not None else self.dtype.type(0)
        return self._fold_a, self._fold_b, relu is not None, slope

    def _in_dtype(self):
        """The statistics (float64) in the data's dtype, for the per-element loops."""
        np.copyto(self._mean_t, self.mean)
        np.copyto(self._inv_std_t, self.inv_std)
        return self._mean_t, self._inv_std_t

    def to_onnx(self, g, x, y, bottom, top):
        if not self.use_global:
            raise g.error(self, "BatchNorm with use_global_stats false normalizes by batch "
                                "statistics; export needs the stored ones")
        mean, var, factor = (b.cpu_data for b in self.blobs)
        factor = float(factor.reshape(-1)[0])
        factor = 0.0 if factor == 0 else 1.0 / factor
        c, name = mean.size, self.name
        g.node("BatchNormalization",
               [x[0], g.const(f"{name}_scale", np.ones(c)), g.const(f"{name}_bias", np.zeros(c)),
                g.const(f"{name}_mean", mean * factor), g.const(f"{name}_var", var * factor)],
               y, name, epsilon=float(self.p.eps))
