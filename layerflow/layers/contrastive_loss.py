"""ContrastiveLoss: Hadsell, Chopra & LeCun's loss on pairs of embeddings a, b (N, C) with
a similarity flag y per pair (Caffe's; its siamese example).

d = a - b, D = |d|; loss = 1/(2N) * sum_i [ y_i D_i^2 + (1 - y_i) max(margin - D_i, 0)^2 ];
with `legacy_version: true` the dissimilar term is max(margin - D_i^2, 0) (Caffe's first form).
Gradient to a (b gets the negative): y_i: loss_weight / N * d_i; dissimilar, where the margin
term is active: -loss_weight / N * (margin - D_i) / (D_i + 1e-4) * d_i (Caffe's epsilon,
which keeps D = 0 finite and makes this 1e-4 / D relatively smaller than the exact
derivative), legacy: -loss_weight / N * d_i. The flags get no gradient.

params: `margin` (default 1), `legacy_version` (false).

    - {name: loss, type: ContrastiveLoss, bottom: [feat, feat_p, sim], top: loss, margin: 1}
"""
from dataclasses import dataclass

import numpy as np

from ..kernels.cpu.contrastive_loss import contrastive_backward, contrastive_forward
from ..layer import Layer
from ..registry import register_layer


@register_layer("ContrastiveLoss")
class ContrastiveLoss(Layer):
    @dataclass
    class Params:
        margin: float = 1.0
        legacy_version: bool = False

    num_bottom = 3
    is_loss = True

    def can_backprop(self, bottom_index):
        return bottom_index < 2

    def setup(self, bottom, top):
        self.margin = self.dtype.type(self.p.margin)
        self.diff = np.zeros((0, 0), self.dtype)
        self.dist_sq = np.zeros(0, self.dtype)

    def reshape(self, bottom, top):
        a, b, sim = bottom
        n = a.shape[0] if a.shape else 0
        if a.shape != b.shape or len(a.shape) < 2 or any(s != 1 for s in a.shape[2:]):
            raise self.shape_error(f"bottoms '{a.name}' {list(a.shape)} and '{b.name}' "
                                   f"{list(b.shape)} must both be (N, C) or (N, C, 1, 1)")
        if sim.count != n:
            raise self.shape_error(f"similarity blob '{sim.name}' of shape {list(sim.shape)} "
                                   f"must hold one flag per pair ({n})")
        self.dims = (n, a.shape[1])
        if self.diff.shape != self.dims:
            self.diff = np.zeros(self.dims, self.dtype)
            self.dist_sq = np.zeros(n, self.dtype)
            if self.device is not None:               # d and D^2, kept on the device
                self.diff_gpu = self.device.zeros(a.count, self.dtype).reshape(self.dims)
                self.dist_sq_gpu = self.device.zeros(n, self.dtype)
        top[0].reshape(())

    def forward_cpu(self, bottom, top):
        total = contrastive_forward(bottom[0].data.reshape(self.dims),
                                    bottom[1].data.reshape(self.dims), bottom[2].data.reshape(-1),
                                    self.margin, self.p.legacy_version, self.diff, self.dist_sq)
        top[0].data[...] = total / (2.0 * self.dims[0])

    def backward_cpu(self, top, propagate_down, bottom):
        for i, sign in ((0, 1.0), (1, -1.0)):
            if propagate_down[i]:
                alpha = self.dtype.type(sign * float(top[0].diff) / self.dims[0])
                contrastive_backward(self.diff, self.dist_sq, bottom[2].data.reshape(-1),
                                     self.margin, self.p.legacy_version, alpha,
                                     bottom[i].diff.reshape(self.dims))

    def forward_gpu(self, bottom, top):
        total = self.device.kernels("contrastive_loss").contrastive_forward(
            bottom[0].gpu_data.reshape(self.dims), bottom[1].gpu_data.reshape(self.dims),
            bottom[2].gpu_data.reshape(bottom[2].count), self.margin, self.p.legacy_version,
            self.diff_gpu, self.dist_sq_gpu)
        top[0].data[...] = total / (2.0 * self.dims[0])   # the loss comes down

    def backward_gpu(self, top, propagate_down, bottom):
        k = self.device.kernels("contrastive_loss")
        for i, sign in ((0, 1.0), (1, -1.0)):
            if propagate_down[i]:
                alpha = self.dtype.type(sign * float(top[0].cpu_diff) / self.dims[0])
                k.contrastive_backward(self.diff_gpu, self.dist_sq_gpu,
                                       bottom[2].gpu_data.reshape(bottom[2].count), self.margin,
                                       self.p.legacy_version, alpha,
                                       bottom[i].mutable_gpu_diff.reshape(self.dims))
