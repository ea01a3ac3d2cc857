"""RMSProp (Tieleman & Hinton 2012), Caffe's form, one fused pass per param:
g' = s*g + regularization; h = rms_decay*h + (1 - rms_decay)*g'^2;
w -= lr * g' / (sqrt(h) + delta)."""
import math

from numba import njit

from .regularize import regularization


@njit(cache=True, error_model="numpy")
def rmsprop_update(w, g, h, lr, grad_scale, decay, l1, rms_decay, delta):
    for i in range(w.size):
        wi = w[i]
        reg = regularization(wi, decay, l1)
        gi = grad_scale * g[i] + reg
        hi = rms_decay * h[i] + (1.0 - rms_decay) * gi * gi
        h[i] = hi
        w[i] = wi - lr * gi / (math.sqrt(hi) + delta)
