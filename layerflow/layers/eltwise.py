"""Eltwise: element-wise SUM (with coefficients), PROD or MAX of two or more bottoms of
one shape (Caffe's layer).

    SUM:  y = sum_k coeff_k x_k            dx_k = coeff_k dy
    PROD: y = prod_k x_k                   dx_k = dy prod_{j != k} x_j
                                           (stable_prod_grad: false gives dy y / x_k)
    MAX:  y = max_k x_k                    dx_k = dy where x_k was the maximum (the first
                                           bottom wins ties), else 0

`coeff` (SUM only) has one value per bottom, default all 1: `coeff: [1, -1]` subtracts.

    - {name: res1, type: Eltwise, bottom: [branch1, branch2], top: res1}
    - {name: diff, type: Eltwise, bottom: [a, b], top: d, operation: SUM, coeff: [1, -1]}
"""
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..kernels.cpu.eltwise import (axpy, divide_product, max2, max_backward, max_update,
                                   multiply2, multiply_into, parts_for, scale_into,
                                   scale_into2, weighted_sum2)
from ..layer import Layer
from ..registry import register_layer


@register_layer("Eltwise")
class Eltwise(Layer):
    @dataclass
    class Params:
        operation: Literal["PROD", "SUM", "MAX"] = "SUM"
        coeff: list[float] = field(default_factory=list)
        stable_prod_grad: bool = True

        def __post_init__(self):
            if self.coeff and self.operation != "SUM":
                raise ValueError(f"Eltwise 'coeff' applies to SUM only, not {self.operation}")

    num_bottom = (2, None)
    _parts = 1              # runs (threads) of SUM's loops, set in reshape

    def setup(self, bottom, top):
        if self.p.coeff and len(self.p.coeff) != len(bottom):
            raise self.shape_error(f"{len(self.p.coeff)} coeff value(s) for "
                                   f"{len(bottom)} bottoms")
        # in the data's dtype, so that float32 sums run in float32 (twice the vector width)
        self.coeff = [self.dtype.type(c) for c in (self.p.coeff or [1.0] * len(bottom))]
        self.arg = np.zeros(0, np.int32)

    def reshape(self, bottom, top):
        shape = bottom[0].shape
        for b in bottom[1:]:
            if b.shape != shape:
                raise self.shape_error(f"all bottoms must have one shape: '{bottom[0].name}' "
                                       f"is {list(shape)} but '{b.name}' is {list(b.shape)}")
        top[0].reshape(shape)
        self._parts = parts_for(self.runtime.threads, bottom[0].count)
        if self.p.operation == "MAX" and self.arg.size != bottom[0].count:
            self.arg = np.zeros(bottom[0].count, np.int32)
        if (self.device is not None and self.p.operation == "MAX"
                and getattr(self, "arg_gpu", np.zeros(0)).size != bottom[0].count):
            self.arg_gpu = self.device.zeros(bottom[0].count, np.int32)

    def forward_cpu(self, bottom, top):
        xs = [b.data.reshape(-1) for b in bottom]
        y = top[0].data.reshape(-1)
        op = self.p.operation
        if op == "SUM":
            weighted_sum2(xs[0], self.coeff[0], xs[1], self.coeff[1], y, self._parts)
            for k in range(2, len(xs)):
                axpy(xs[k], self.coeff[k], y)
        elif op == "PROD":
            multiply2(xs[0], xs[1], y)
            for x in xs[2:]:
                multiply_into(x, y)
        else:
            max2(xs[0], xs[1], y, self.arg)
            for k in range(2, len(xs)):
                max_update(xs[k], k, y, self.arg)

    def backward_cpu(self, top, propagate_down, bottom):
        dy = top[0].diff.reshape(-1)
        op = self.p.operation
        if op == "SUM" and len(bottom) == 2 and all(propagate_down[:2]):   # one pass over dy
            scale_into2(dy, self.coeff[0], bottom[0].diff.reshape(-1), self.coeff[1],
                        bottom[1].diff.reshape(-1), self._parts)
            return
        for k, b in enumerate(bottom):
            if not propagate_down[k]:
                continue
            dx = b.diff.reshape(-1)
            if op == "SUM":
                scale_into(dy, self.coeff[k], dx, self._parts)
            elif op == "MAX":
                max_backward(dy, self.arg, k, dx)
            elif self.p.stable_prod_grad:
                others = [o.data.reshape(-1) for j, o in enumerate(bottom) if j != k]
                multiply2(dy, others[0], dx)
                for x in others[1:]:
                    multiply_into(x, dx)
            else:
                divide_product(dy, top[0].data.reshape(-1), b.data.reshape(-1), dx)

    def forward_gpu(self, bottom, top):
        k = self.device.kernels("eltwise")
        xs = [b.gpu_data.reshape(b.count) for b in bottom]
        y = top[0].mutable_gpu_data.reshape(top[0].count)
        op = self.p.operation
        if op == "SUM":
            k.weighted_sum2(xs[0], self.coeff[0], xs[1], self.coeff[1], y)
            for j in range(2, len(xs)):
                k.axpy(xs[j], self.coeff[j], y)
        elif op == "PROD":
            k.multiply2(xs[0], xs[1], y)
            for x in xs[2:]:
                k.multiply_into(x, y)
        else:
            k.max2(xs[0], xs[1], y, self.arg_gpu)
            for j in range(2, len(xs)):
                k.max_update(xs[j], j, y, self.arg_gpu)

    def backward_gpu(self, top, propagate_down, bottom):
        k = self.device.kernels("eltwise")
        dy = top[0].gpu_diff.reshape(top[0].count)
        op = self.p.operation
        for j, b in enumerate(bottom):
            if not propagate_down[j]:
                continue
            dx = b.mutable_gpu_diff.reshape(b.count)
            if op == "SUM":
                k.scale_into(dy, self.coeff[j], dx)
            elif op == "MAX":
                k.max_backward(dy, self.arg_gpu, j, dx)
            elif self.p.stable_prod_grad:
                others = [o.gpu_data.reshape(o.count) for i, o in enumerate(bottom) if i != j]
                k.multiply2(dy, others[0], dx)
                for x in others[1:]:
                    k.multiply_into(x, dx)
            else:
                k.divide_product(dy, top[0].gpu_data.reshape(top[0].count),
                                 b.gpu_data.reshape(b.count), dx)

    def to_onnx(self, g, x, y, bottom, top):
        op, name = self.p.operation, self.name
        if op == "SUM" and self.p.coeff and any(c != 1 for c in self.p.coeff):
            scaled = []
            for i, (xi, c) in enumerate(zip(x, self.p.coeff)):
                yi = g.fresh(f"{name}_term{i}")
                g.node("Mul", [xi, g.const(f"{name}_coeff{i}", np.array(c))], [yi],
                       f"{name}_mul{i}")
                scaled.append(yi)
            x = scaled
        if op in ("SUM", "MAX"):
            g.node("Sum" if op == "SUM" else "Max", x, y, name)
            return
        acc = x[0]                                  # PROD: a chain of binary Mul
        for i, xi in enumerate(x[1:]):
            nxt = y[0] if i == len(x) - 2 else g.fresh(f"{name}_prod{i}")
            g.node("Mul", [acc, xi], [nxt], f"{name}_mul{i}")
            acc = nxt
