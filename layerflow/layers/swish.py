"""Swish: y = x * sigmoid(beta * x) (Ramachandran et al. 2017; SiLU for beta = 1; Caffe's
Swish). Gradient: dx = dy * (beta * y + s * (1 - beta * y)), s = sigmoid(beta * x), kept
from the forward pass. Runs in place.

params: `beta` (default 1).

    - {name: swish1, type: Swish, bottom: conv1, top: conv1}
"""
from dataclasses import dataclass

import numpy as np

from ..kernels.cpu.swish import (swish_backward, swish_backward_inplace, swish_forward,
                                 swish_forward_inplace)
from ..layer import Layer
from ..registry import register_layer


@register_layer("Swish")
class Swish(Layer):
    @dataclass
    class Params:
        beta: float = 1.0

    in_place = True

    def setup(self, bottom, top):
        self.beta = self.dtype.type(self.p.beta)
        self.sig = np.zeros(0, self.dtype)

    def reshape(self, bottom, top):
        top[0].reshape(bottom[0].shape)
        if self.sig.size != bottom[0].count:
            self.sig = np.zeros(bottom[0].count, self.dtype)
            if self.device is not None:               # the sigmoid, kept on the device
                self.sig_gpu = self.device.zeros(bottom[0].count, self.dtype)

    def forward_cpu(self, bottom, top):
        x = bottom[0].data.reshape(-1)
        if top[0] is bottom[0]:
            swish_forward_inplace(x, self.beta, self.sig)
        else:
            swish_forward(x, self.beta, self.sig, top[0].data.reshape(-1))

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        y = top[0].data.reshape(-1)
        if top[0] is bottom[0]:
            swish_backward_inplace(y, self.sig, bottom[0].diff.reshape(-1), self.beta)
        else:
            swish_backward(y, self.sig, top[0].diff.reshape(-1), self.beta,
                           bottom[0].diff.reshape(-1))

    def forward_gpu(self, bottom, top):
        k = self.device.kernels("swish")
        n = bottom[0].count
        if top[0] is bottom[0]:
            k.swish_forward_inplace(top[0].mutable_gpu_data.reshape(n), self.beta, self.sig_gpu)
        else:
            k.swish_forward(bottom[0].gpu_data.reshape(n), self.beta, self.sig_gpu,
                            top[0].mutable_gpu_data.reshape(n))

    def backward_gpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        k = self.device.kernels("swish")
        n = top[0].count
        y = top[0].gpu_data.reshape(n)
        if top[0] is bottom[0]:
            k.swish_backward_inplace(y, self.sig_gpu, bottom[0].mutable_gpu_diff.reshape(n),
                                     self.beta)
        else:
            k.swish_backward(y, self.sig_gpu, top[0].gpu_diff.reshape(n), self.beta,
                             bottom[0].mutable_gpu_diff.reshape(n))

    def to_onnx(self, g, x, y, bottom, top):
        scaled, gate = g.fresh(f"{self.name}_bx"), g.fresh(f"{self.name}_gate")
        g.node("Mul", [x[0], g.const(f"{self.name}_beta", np.array(self.p.beta))], [scaled],
               f"{self.name}_scale")
        g.node("Sigmoid", [scaled], [gate], f"{self.name}_sigmoid")
        g.node("Mul", [x[0], gate], y, self.name)
