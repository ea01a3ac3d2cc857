"""RMSProp, Caffe's form, the CUDA twin of kernels/cpu/rmsprop.py (one fused launch per
param): g' = s*g + regularization; h = rms_decay*h + (1 - rms_decay)*g'^2;
w -= lr * g' / (sqrt(h) + delta)."""
import math

from numba import cuda

from .launch import f64, flat, grid
from .regularize import regularization


@cuda.jit
def _update(w, g, h, lr, grad_scale, decay, l1, rms_decay, delta):
    i = cuda.grid(1)
    while i < w.size:
        wi = w[i]
        reg = regularization(wi, decay, l1)
        gi = grad_scale * g[i] + reg
        hi = rms_decay * h[i] + (1.0 - rms_decay) * gi * gi
        h[i] = hi
        w[i] = wi - lr * gi / (math.sqrt(hi) + delta)
        i += cuda.gridsize(1)


def rmsprop_update(w, g, h, lr, grad_scale, decay, l1, rms_decay, delta):
    w, g, h = flat(w), flat(g), flat(h)
    _update[grid(w.size)](w, g, h, *f64(lr, grad_scale, decay), bool(l1),
                          *f64(rms_decay, delta))
