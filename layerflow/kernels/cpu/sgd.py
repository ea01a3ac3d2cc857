"""SGD with momentum, Caffe's form, one fused pass per param:
g' = s*g + decay*w (L2) or s*g + decay*sign(w) (L1); h = momentum*h + lr*g'; w -= h."""
from numba import njit

from .regularize import regularization


@njit(cache=True)
def sgd_update(w, g, h, lr, momentum, grad_scale, decay, l1):
    for i in range(w.size):
        wi = w[i]
        reg = regularization(wi, decay, l1)
        v = momentum * h[i] + lr * (grad_scale * g[i] + reg)
        h[i] = v
        w[i] = wi - v
