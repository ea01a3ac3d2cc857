"""Bias: y = x + b, b broadcast along the axes [axis, axis + num_axes) of x (Caffe's layer).

b is learnable (shape x.shape[axis : axis + num_axes]; num_axes -1 means to the end and 0 a
scalar; `filler` default constant 0), or the second bottom (its shape must match x's from
`axis` on, and `num_axes` is ignored).
Gradients: dx = dy; db = sum of dy over the other axes (added into a learnable b, written
to a bottom b). Runs in place.

    - {name: bias1, type: Bias, bottom: ip1, top: ip1}
    - {name: shift, type: Bias, bottom: [data, offsets], top: shifted, axis: 0}
"""
from dataclasses import dataclass, field

import numpy as np

from ..config.schema import bounded
from ..fillers import FillerSpec
from ..kernels.cpu.scale import bias_backward, bias_forward, bias_forward_inplace
from ..layer import Layer
from ..registry import register_layer


def param_axis_and_shape(layer, bottom, axis, num_axes):
    """(axis, shape of the broadcast operand) per Caffe's Scale/Bias rules; ShapeError if bad."""
    x = bottom[0]
    if len(bottom) > 1:
        shape = bottom[1].shape
        if len(shape) == 0:
            return 0, shape
    else:
        shape = None
    if not -x.ndim <= axis < x.ndim:
        raise layer.shape_error(f"axis {axis} out of range for bottom '{x.name}' of shape "
                                f"{list(x.shape)}")
    axis = axis + x.ndim if axis < 0 else axis
    if shape is None:
        if num_axes == -1:
            shape = x.shape[axis:]
        elif axis + num_axes > x.ndim:
            raise layer.shape_error(f"axis {axis} + num_axes {num_axes} exceeds the "
                                    f"{x.ndim} axes of bottom '{x.name}' {list(x.shape)}")
        else:
            shape = x.shape[axis:axis + num_axes]
    return axis, tuple(shape)


def broadcast_view(layer, bottom, axis, pshape):
    """(outer, S, inner) for x with the operand over [axis, axis + len(pshape)); checks fit."""
    x = bottom[0]
    end = axis + len(pshape)
    if tuple(x.shape[axis:end]) != tuple(pshape):
        what = f"bottom '{bottom[1].name}'" if len(bottom) > 1 else "the learned blob"
        raise layer.shape_error(f"{what} of shape {list(pshape)} does not match bottom "
                                f"'{x.name}' {list(x.shape)} at axes {axis}..{end - 1}")
    outer = int(np.prod(x.shape[:axis], dtype=np.int64))
    inner = int(np.prod(x.shape[end:], dtype=np.int64))
    return outer, int(np.prod(pshape, dtype=np.int64)), inner


@register_layer("Bias")
class Bias(Layer):
    @dataclass
    class Params:
        axis: int = 1
        num_axes: int = bounded(1, lo=-1)
        filler: FillerSpec = field(default_factory=FillerSpec)

    num_bottom = (1, 2)
    in_place = True

    def setup(self, bottom, top):
        if len(bottom) > 1 and top[0] is bottom[1]:
            raise self.shape_error(f"the bias bottom '{bottom[1].name}' cannot be the top")
        self.axis, pshape = param_axis_and_shape(self, bottom, self.p.axis, self.p.num_axes)
        if len(bottom) == 1:
            self.add_param(pshape, self.p.filler)

    def reshape(self, bottom, top):
        b = bottom[1] if len(bottom) > 1 else self.blobs[0]
        self._view = broadcast_view(self, bottom, self.axis, b.shape)
        top[0].reshape(bottom[0].shape)

    def forward_cpu(self, bottom, top):
        b = bottom[1] if len(bottom) > 1 else self.blobs[0]
        if top[0] is bottom[0]:
            bias_forward_inplace(top[0].data.reshape(self._view), b.data.reshape(-1))
        else:
            bias_forward(bottom[0].data.reshape(self._view), b.data.reshape(-1),
                         top[0].data.reshape(self._view))

    def backward_cpu(self, top, propagate_down, bottom):
        dy = top[0].diff.reshape(self._view)
        if len(bottom) > 1:
            if propagate_down[1]:
                db = bottom[1].diff.reshape(-1)
                db[...] = 0
                bias_backward(dy, db)
        else:
            bias_backward(dy, self.blobs[0].diff.reshape(-1))
        if propagate_down[0] and top[0] is not bottom[0]:
            bottom[0].diff[...] = top[0].diff

    def forward_gpu(self, bottom, top):
        k = self.device.kernels("scale")
        b = bottom[1] if len(bottom) > 1 else self.blobs[0]
        if top[0] is bottom[0]:
            k.bias_forward_inplace(top[0].mutable_gpu_data.reshape(self._view),
                                   b.gpu_data.reshape(b.count))
        else:
            k.bias_forward(bottom[0].gpu_data.reshape(self._view), b.gpu_data.reshape(b.count),
                           top[0].mutable_gpu_data.reshape(self._view))

    def backward_gpu(self, top, propagate_down, bottom):
        k = self.device.kernels("scale")
        dy = top[0].gpu_diff.reshape(self._view)
        if len(bottom) > 1:
            if propagate_down[1]:
                db = bottom[1].mutable_gpu_diff.reshape(bottom[1].count)
                self.device.fill_zero(db)
                k.bias_backward(dy, db)
        else:
            k.bias_backward(dy, self.blobs[0].mutable_gpu_diff.reshape(self.blobs[0].count))
        if propagate_down[0] and top[0] is not bottom[0]:
            self.device.kernels("eltwise").scale_into(
                top[0].gpu_diff.reshape(top[0].count), 1.0,
                bottom[0].mutable_gpu_diff.reshape(bottom[0].count))

    def to_onnx(self, g, x, y, bottom, top):
        scale_bias_nodes(self, g, x, y, bottom, "Add")


def scale_bias_nodes(layer, g, x, y, bottom, op):
    """ONNX nodes of Scale (op Mul, + Add with bias_term) and Bias (op Add): the operand (a
    learned blob or bottom 1) broadcast from `axis`, with trailing axes of size 1 appended
    as numpy broadcasting needs."""
    name, nd, axis = layer.name, bottom[0].ndim, layer.axis

    def shaped(arr):
        return arr.reshape(arr.shape + (1,) * max(nd - axis - arr.ndim, 0))

    if len(bottom) > 1:
        target = list(bottom[1].shape) + [1] * max(nd - axis - bottom[1].ndim, 0)
        operand = g.fresh(f"{name}_operand")
        g.node("Reshape", [x[1], g.const(f"{name}_oshape", target, np.int64)], [operand],
               f"{name}_reshape")
    else:
        operand = g.const(f"{name}_{'scale' if op == 'Mul' else 'bias'}",
                          shaped(layer.blobs[0].cpu_data))
    if op == "Mul" and layer.p.bias_term:
        mid = g.fresh(f"{name}_scaled")
        g.node("Mul", [x[0], operand], [mid], f"{name}_mul")
        g.node("Add", [mid, g.const(f"{name}_bias", shaped(layer.blobs[-1].cpu_data))], y, name)
    else:
        g.node(op, [x[0], operand], y, name)
