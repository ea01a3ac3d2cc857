"""Scale: y = x * s (+ b), s (and b) broadcast along the axes [axis, axis + num_axes) of x,
as Caffe's Scale layer.

s is learnable (shape x.shape[axis : axis + num_axes]; num_axes -1 means to the end and 0
a scalar; `filler` default constant 1) or the second bottom (its shape must match x's from
`axis` on; `num_axes` is then ignored). With `bias_term: true` a learnable b of s's shape is
added (`bias_filler`, default constant 0) -- BatchNorm + Scale is Caffe's batch norm with affine.
Gradients: dx = dy * s; ds = sum of dy * x over the other axes; db = sum of dy (added into
learnable blobs, written to a bottom s). Runs in place (then it keeps a copy of x for ds).

    - {name: scale1, type: Scale, bottom: conv1, top: conv1, bias_term: true}
    - {name: gate, type: Scale, bottom: [feat, weights], top: gated, axis: 0}
"""
from dataclasses import dataclass, field

import numpy as np

from ..config.schema import bounded
from ..fillers import FillerSpec
from ..kernels.cpu.eltwise import parts_for
from ..kernels.cpu.scale import (scale_backward_inplace_parts, scale_backward_parts,
                                 scale_forward_inplace_parts, scale_forward_parts)
from ..layer import Layer
from ..registry import register_layer
from .bias import broadcast_view, param_axis_and_shape, scale_bias_nodes


@register_layer("Scale")
class Scale(Layer):
    @dataclass
    class Params:
        axis: int = 1
        num_axes: int = bounded(1, lo=-1)
        filler: FillerSpec = field(default_factory=lambda: FillerSpec("constant", value=1.0))
        bias_term: bool = False
        bias_filler: FillerSpec = field(default_factory=FillerSpec)

    num_bottom = (1, 2)
    in_place = True
    need_backward = True    # the Net's call: False where backward never runs (no copy of x)

    def setup(self, bottom, top):
        if len(bottom) > 1 and top[0] is bottom[1]:
            raise self.shape_error(f"the scale bottom '{bottom[1].name}' cannot be the top")
        self.axis, pshape = param_axis_and_shape(self, bottom, self.p.axis, self.p.num_axes)
        if len(bottom) == 1:
            self.add_param(pshape, self.p.filler)
        if self.p.bias_term:
            self.add_param(pshape, self.p.bias_filler)
        self._none = np.zeros(0, self.dtype)
        self._zero_bias = np.zeros(0, self.dtype)     # the bias when there is none
        self._xcopy = np.zeros(0, self.dtype)

    def reshape(self, bottom, top):
        s = bottom[1] if len(bottom) > 1 else self.blobs[0]
        self._view = broadcast_view(self, bottom, self.axis, s.shape)
        top[0].reshape(bottom[0].shape)
        if self._zero_bias.size != self._view[1]:
            self._zero_bias = np.zeros(self._view[1], self.dtype)
        if top[0] is bottom[0] and self.need_backward and self._xcopy.size != bottom[0].count:
            self._xcopy = np.zeros(bottom[0].count, self.dtype)
        self._parts = parts_for(self.runtime.threads, bottom[0].count)
        if getattr(self, "_sums", np.zeros(0)).shape != (self._parts, 2, self._view[1]):
            self._sums = np.zeros((self._parts, 2, self._view[1]))     # per-thread sums
        if self.device is not None:        # the same buffers on the device
            dev = getattr(self, "_dev", None)
            if dev is None or dev["zero_bias"].size != self._view[1] or (
                    top[0] is bottom[0] and dev["xcopy"].size != bottom[0].count):
                z = self.device.zeros
                self._dev = {"none": z(0, self.dtype), "zero_bias": z(self._view[1], self.dtype),
                             "xcopy": z(bottom[0].count if top[0] is bottom[0] else 0,
                                        self.dtype)}

    def forward_cpu(self, bottom, top):
        s = bottom[1] if len(bottom) > 1 else self.blobs[0]
        b = self.blobs[-1].data.reshape(-1) if self.p.bias_term else self._zero_bias
        y = top[0].data.reshape(self._view)
        if top[0] is bottom[0]:
            keep = self.need_backward
            scale_forward_inplace_parts(y, s.data.reshape(-1), b,
                                        self._xcopy.reshape(self._view) if keep else y,
                                        self._parts, keep)
        else:
            scale_forward_parts(bottom[0].data.reshape(self._view), s.data.reshape(-1), b, y,
                                self._parts)

    def backward_cpu(self, top, propagate_down, bottom):
        s = bottom[1] if len(bottom) > 1 else self.blobs[0]
        if len(bottom) > 1:
            ds = bottom[1].diff.reshape(-1) if propagate_down[1] else self._none
            ds[...] = 0
        else:
            ds = s.diff.reshape(-1)
        db = self.blobs[-1].diff.reshape(-1) if self.p.bias_term else self._none
        if top[0] is bottom[0]:
            scale_backward_inplace_parts(self._xcopy.reshape(self._view),
                                         top[0].diff.reshape(self._view), s.data.reshape(-1),
                                         ds, db, propagate_down[0], self._sums)
        else:
            scale_backward_parts(bottom[0].data.reshape(self._view),
                                 top[0].diff.reshape(self._view), s.data.reshape(-1), ds, db,
                                 bottom[0].diff.reshape(self._view), propagate_down[0],
                                 self._sums)

    def forward_gpu(self, bottom, top):
        k, d = self.device.kernels("scale"), self._dev
        s = bottom[1] if len(bottom) > 1 else self.blobs[0]
        b = (self.blobs[-1].gpu_data.reshape(self.blobs[-1].count) if self.p.bias_term
             else d["zero_bias"])
        sc = s.gpu_data.reshape(s.count)
        if top[0] is bottom[0]:
            k.scale_forward_inplace(top[0].mutable_gpu_data.reshape(self._view), sc, b,
                                    d["xcopy"].reshape(self._view))
        else:
            k.scale_forward(bottom[0].gpu_data.reshape(self._view), sc, b,
                            top[0].mutable_gpu_data.reshape(self._view))

    def backward_gpu(self, top, propagate_down, bottom):
        k, d = self.device.kernels("scale"), self._dev
        s = bottom[1] if len(bottom) > 1 else self.blobs[0]
        if len(bottom) > 1:
            ds = bottom[1].mutable_gpu_diff.reshape(bottom[1].count) if propagate_down[1] \
                else d["none"]
            self.device.fill_zero(ds)
        else:
            ds = s.mutable_gpu_diff.reshape(s.count)
        db = (self.blobs[-1].mutable_gpu_diff.reshape(self.blobs[-1].count) if self.p.bias_term
              else d["none"])
        sc = s.gpu_data.reshape(s.count)
        if top[0] is bottom[0]:
            k.scale_backward_inplace(d["xcopy"].reshape(self._view),
                                     top[0].mutable_gpu_diff.reshape(self._view), sc, ds, db,
                                     propagate_down[0])
        else:
            k.scale_backward(bottom[0].gpu_data.reshape(self._view),
                             top[0].gpu_diff.reshape(self._view), sc, ds, db,
                             bottom[0].mutable_gpu_diff.reshape(self._view), propagate_down[0])

    def to_onnx(self, g, x, y, bottom, top):
        scale_bias_nodes(self, g, x, y, bottom, "Mul")
