"""Adam (Caffe's AdamSolver, Kingma & Ba 2015). Caffe's names: `momentum` is beta1,
`momentum2` beta2, `delta` epsilon. With t = iter + 1:
m = b1*m + (1 - b1)*g', v = b2*v + (1 - b2)*g'^2,
w -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + delta).
This is the paper's "efficient" form (section 2), which Caffe uses: the bias correction
multiplies the rate, so delta is added to the uncorrected sqrt(v). PyTorch's `Adam` adds eps
to the corrected sqrt(v / (1 - b2^t)); the two agree exactly when delta is 0 and differ by a
factor sqrt(1 - b2^t) on delta otherwise. Weight decay is coupled (added to the gradient),
as in Caffe and PyTorch's Adam; use AdamW for decoupled decay.

    solver: {type: Adam, base_lr: 0.001, momentum: 0.9, momentum2: 0.999, delta: 1.0e-8}
"""
import math

from .base import Solver, register_solver


def bias_correction(beta1, beta2, t):
    """Caffe's sqrt(1 - beta2^t) / (1 - beta1^t) for step t (1-based)."""
    return math.sqrt(1.0 - beta2 ** t) / (1.0 - beta1 ** t)


@register_solver("Adam")
class Adam(Solver):
    history_per_param = 2
    kernel_module = "adam"

    def update_param(self, w, g, history, lr, grad_scale, decay, l1):
        p = self.p
        self.kernels.adam_update(w, g, history[0], history[1], lr, grad_scale, decay, l1,
                                 p.momentum, p.momentum2, p.delta,
                                 bias_correction(p.momentum, p.momentum2, self.iter + 1))
