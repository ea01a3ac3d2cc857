"""Nesterov momentum, Caffe's form (Sutskever et al. 2013), one fused pass per param:
g' = s*g + regularization; h_new = momentum*h + lr*g'; w -= (1 + momentum)*h_new - momentum*h."""
from numba import njit

from .regularize import regularization


@njit(cache=True)
def nesterov_update(w, g, h, lr, momentum, grad_scale, decay, l1):
    for i in range(w.size):
        wi = w[i]
        reg = regularization(wi, decay, l1)
        old = h[i]
        v = momentum * old + lr * (grad_scale * g[i] + reg)
        h[i] = v
        w[i] = wi - ((1.0 + momentum) * v - momentum * old)
