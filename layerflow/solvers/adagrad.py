"""AdaGrad (Caffe's AdaGradSolver, Duchi et al. 2011): h += g'^2,
w -= lr * g' / (sqrt(h) + delta). `delta` is added outside the square root, as Caffe and
PyTorch's `Adagrad(eps=delta)` do. No momentum.

    solver: {type: AdaGrad, base_lr: 0.01, delta: 1.0e-8}
"""
from .base import Solver, register_solver


@register_solver("AdaGrad")
class AdaGrad(Solver):
    history_per_param = 1
    kernel_module = "adagrad"

    def update_param(self, w, g, history, lr, grad_scale, decay, l1):
        self.kernels.adagrad_update(w, g, history[0], lr, grad_scale, decay, l1, self.p.delta)
