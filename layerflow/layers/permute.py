"""Permute: reorders the axes (SSD's layer; torch.permute).

    y = x.transpose(order)         dx = dy.transpose(inverse of order)

`order` lists axes of the bottom; axes it leaves out follow in their own order (SSD's rule),
so `order: [0, 2, 3, 1]` turns NCHW into NHWC. Strided numpy copies, nothing allocated.

    - {name: conv4_3_norm_mbox_loc_perm, type: Permute, bottom: loc, top: loc_perm,
       order: [0, 2, 3, 1]}
"""
from dataclasses import dataclass, field

import numpy as np

from ..layer import Layer
from ..registry import register_layer


@register_layer("Permute")
class Permute(Layer):
    @dataclass
    class Params:
        order: list[int] = field(default_factory=list)

    def setup(self, bottom, top):
        nd = bottom[0].ndim
        order = []
        for a in self.p.order:
            if not -nd <= a < nd:
                raise self.shape_error(f"order {self.p.order} names axis {a}, but bottom "
                                       f"'{bottom[0].name}' {list(bottom[0].shape)} has {nd}")
            a = a + nd if a < 0 else a
            if a in order:
                raise self.shape_error(f"order {self.p.order} names axis {a} twice")
            order.append(a)
        order += [a for a in range(nd) if a not in order]
        self.order = tuple(order)
        self.inverse = tuple(int(i) for i in np.argsort(order))

    def reshape(self, bottom, top):
        x = bottom[0]
        if x.ndim != len(self.order):
            raise self.shape_error(f"bottom '{x.name}' {list(x.shape)} has {x.ndim} axes; "
                                   f"the order {list(self.order)} is for {len(self.order)}")
        top[0].reshape(tuple(x.shape[a] for a in self.order))

    def forward_cpu(self, bottom, top):
        np.copyto(top[0].data, bottom[0].data.transpose(self.order))

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            np.copyto(bottom[0].diff, top[0].diff.transpose(self.inverse))

    def forward_gpu(self, bottom, top):
        self.device.kernels("permute").permute(bottom[0].gpu_data, self.order,
                                               top[0].mutable_gpu_data)

    def backward_gpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            self.device.kernels("permute").permute(top[0].gpu_diff, self.inverse,
                                                   bottom[0].mutable_gpu_diff)

    def to_onnx(self, g, x, y, bottom, top):
        g.node("Transpose", x, y, self.name, perm=list(self.order))
