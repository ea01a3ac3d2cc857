"""Nesterov's accelerated gradient (Caffe's NesterovSolver, Sutskever et al. 2013):
h_new = momentum*h + lr*g', w -= (1 + momentum)*h_new - momentum*h, with g' the regularized
gradient. Like SGD, the rate sits inside the history (Caffe); with a constant rate this is
PyTorch's `SGD(nesterov=True)` step for step.

    solver: {type: Nesterov, base_lr: 0.01, momentum: 0.95}
"""
from .base import Solver, register_solver


@register_solver("Nesterov")
class Nesterov(Solver):
    history_per_param = 1
    kernel_module = "nesterov"

    def update_param(self, w, g, history, lr, grad_scale, decay, l1):
        self.kernels.nesterov_update(w, g, history[0], lr, self.p.momentum, grad_scale, decay, l1)
