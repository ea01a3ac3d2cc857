"""RMSProp (Caffe's RMSPropSolver, Tieleman & Hinton 2012):
h = rms_decay*h + (1 - rms_decay)*g'^2, w -= lr * g' / (sqrt(h) + delta). `delta` is added
outside the square root, as Caffe and PyTorch's `RMSprop(alpha=rms_decay, eps=delta)` do.
No momentum (Caffe refuses it).

    solver: {type: RMSProp, base_lr: 0.001, rms_decay: 0.98, delta: 1.0e-8}
"""
from .base import Solver, register_solver


@register_solver("RMSProp")
class RMSProp(Solver):
    history_per_param = 1
    kernel_module = "rmsprop"

    def update_param(self, w, g, history, lr, grad_scale, decay, l1):
        self.kernels.rmsprop_update(w, g, history[0], lr, grad_scale, decay, l1, self.p.rms_decay,
                                    self.p.delta)
