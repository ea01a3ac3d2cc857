"""AdaDelta (Caffe's AdaDeltaSolver, Zeiler 2012). Caffe's names: `momentum` is the decay
rho of both running averages, `delta` the epsilon:
hg = rho*hg + (1 - rho)*g'^2, u = g' * sqrt((hu + delta) / (hg + delta)),
hu = rho*hu + (1 - rho)*u^2, w -= lr * u. This is PyTorch's `Adadelta(lr, rho, eps)` too.
Two history blobs per param (hg, hu), in Caffe's order.

    solver: {type: AdaDelta, base_lr: 1.0, momentum: 0.95, delta: 1.0e-6}
"""
from .base import Solver, register_solver


@register_solver("AdaDelta")
class AdaDelta(Solver):
    history_per_param = 2
    kernel_module = "adadelta"

    def update_param(self, w, g, history, lr, grad_scale, decay, l1):
        self.kernels.adadelta_update(w, g, history[0], history[1], lr, grad_scale, decay, l1,
                                     self.p.momentum, self.p.delta)
