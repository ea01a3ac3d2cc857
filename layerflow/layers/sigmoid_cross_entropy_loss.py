"""SigmoidCrossEntropyLoss: the cross-entropy of independent sigmoid outputs against targets
in [0, 1] (Caffe's; the loss of its MNIST autoencoder).

loss = 1/Z * sum over counted elements of max(x, 0) - x t + log1p(exp(-|x|)), which is
-t log s - (1 - t) log(1 - s), s = sigmoid(x), computed without overflow. Elements whose
target (cast to int) is `ignore_label` are not counted. Z follows Caffe's `normalization`
(FULL = all elements, VALID = counted elements, BATCH_SIZE = x.shape[0], NONE = 1; Z >= 1);
without it `normalize` decides (true: VALID, false: BATCH_SIZE); with neither, BATCH_SIZE,
as in Caffe. Gradient: dx = loss_weight / Z * (s - t), 0 where ignored; targets get none.

    - {name: loss, type: SigmoidCrossEntropyLoss, bottom: [decode1, flatdata], top: loss}
"""
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..kernels.cpu.sigmoid_cross_entropy_loss import sigmoid_ce_backward, sigmoid_ce_forward
from ..layer import Layer
from ..registry import register_layer
from .softmax_with_loss import NORMALIZATIONS, loss_normalizer, resolve_normalization


@register_layer("SigmoidCrossEntropyLoss")
class SigmoidCrossEntropyLoss(Layer):
    @dataclass
    class Params:
        ignore_label: int | None = None
        normalization: Literal[NORMALIZATIONS] | None = None     # None: see `normalize`
        normalize: bool | None = None

    num_bottom = 2
    is_loss = True

    def can_backprop(self, bottom_index):
        return bottom_index == 0

    def setup(self, bottom, top):
        self.norm = resolve_normalization(self.p, "BATCH_SIZE")
        self.sig = np.zeros(0, self.dtype)

    def reshape(self, bottom, top):
        x, t = bottom
        if x.count != t.count or x.shape[:1] != t.shape[:1]:
            raise self.shape_error(f"scores '{x.name}' {list(x.shape)} and targets '{t.name}' "
                                   f"{list(t.shape)} must have the same count and first axis")
        self.outer = x.shape[0] if x.shape else 1
        self.inner = x.count // max(self.outer, 1)
        if self.sig.size != x.count:
            self.sig = np.zeros(x.count, self.dtype)
            if self.device is not None:               # the sigmoid, kept on the device
                self.sig_gpu = self.device.zeros(x.count, self.dtype)
        top[0].reshape(())

    def forward_cpu(self, bottom, top):
        ignore = self.p.ignore_label
        total, count = sigmoid_ce_forward(bottom[0].data.reshape(-1), bottom[1].data.reshape(-1),
                                          ignore if ignore is not None else 0,
                                          ignore is not None, self.sig)
        self.z = loss_normalizer(self.norm, self.outer, self.inner, count)
        top[0].data[...] = total / self.z

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        ignore = self.p.ignore_label
        sigmoid_ce_backward(self.sig, bottom[1].data.reshape(-1),
                            ignore if ignore is not None else 0, ignore is not None,
                            self.dtype.type(float(top[0].diff) / self.z),
                            bottom[0].diff.reshape(-1))

    def forward_gpu(self, bottom, top):
        ignore = self.p.ignore_label
        n = bottom[0].count
        total, count = self.device.kernels("sigmoid_cross_entropy_loss").sigmoid_ce_forward(
            bottom[0].gpu_data.reshape(n), bottom[1].gpu_data.reshape(n),
            ignore if ignore is not None else 0, ignore is not None, self.sig_gpu)
        self.z = loss_normalizer(self.norm, self.outer, self.inner, count)
        top[0].data[...] = total / self.z               # the loss comes down

    def backward_gpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        ignore = self.p.ignore_label
        self.device.kernels("sigmoid_cross_entropy_loss").sigmoid_ce_backward(
            self.sig_gpu, bottom[1].gpu_data.reshape(bottom[1].count),
            ignore if ignore is not None else 0, ignore is not None,
            self.dtype.type(float(top[0].cpu_diff) / self.z),
            bottom[0].mutable_gpu_diff.reshape(bottom[0].count))
