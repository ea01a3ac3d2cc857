"""AdamW (Loshchilov & Hutter 2019): layerflow's Adam on the gradient alone, with the weight
decay taken from the weights directly instead of entering m and v:
w -= lr * (sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + delta) + weight_decay*decay_mult * w).
The decay is scaled by the (scheduled, lr_mult-ed) rate, as in PyTorch's `AdamW`; with
delta 0 the two agree exactly. `regularization_type: L1` decays by sign(w) instead.
Caffe has no AdamW; the field names are Adam's.

    solver: {type: AdamW, base_lr: 0.001, momentum: 0.9, momentum2: 0.999, weight_decay: 0.01}
"""
from .adam import bias_correction
from .base import Solver, register_solver


@register_solver("AdamW")
class AdamW(Solver):
    history_per_param = 2
    kernel_module = "adamw"

    def update_param(self, w, g, history, lr, grad_scale, decay, l1):
        p = self.p
        self.kernels.adamw_update(w, g, history[0], history[1], lr, grad_scale, decay, l1,
                                  p.momentum, p.momentum2, p.delta,
                                  bias_correction(p.momentum, p.momentum2, self.iter + 1))
