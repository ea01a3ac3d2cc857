"""SGD with momentum (Caffe's SGDSolver): the learning rate multiplies the gradient before
it enters the momentum history, h = momentum*h + lr*(g + decay*w), w -= h. PyTorch puts
the rate outside (h = momentum*h + g, w -= lr*h); the two agree while the rate is constant
and differ when it changes, and Caffe's form keeps configs from Caffe meaning the same.

    solver: {type: SGD, base_lr: 0.01, momentum: 0.9, weight_decay: 0.0005}
"""
from .base import Solver, register_solver


@register_solver("SGD")
class SGD(Solver):
    history_per_param = 1
    kernel_module = "sgd"

    def update_param(self, w, g, history, lr, grad_scale, decay, l1):
        self.kernels.sgd_update(w, g, history[0], lr, self.p.momentum, grad_scale, decay, l1)
