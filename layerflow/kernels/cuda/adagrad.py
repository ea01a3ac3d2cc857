"""AdaGrad, Caffe's form, the CUDA twin of kernels/cpu/adagrad.py (one fused launch per
param): g' = s*g + regularization; h += g'^2; w -= lr * g' / (sqrt(h) + delta)."""
import math

from numba import cuda

from .launch import f64, flat, grid
from .regularize import regularization


@cuda.jit
def _update(w, g, h, lr, grad_scale, decay, l1, delta):
    i = cuda.grid(1)
    while i < w.size:
        wi = w[i]
        reg = regularization(wi, decay, l1)
        gi = grad_scale * g[i] + reg
        hi = h[i] + gi * gi
        h[i] = hi
        w[i] = wi - lr * gi / (math.sqrt(hi) + delta)
        i += cuda.gridsize(1)


def adagrad_update(w, g, h, lr, grad_scale, decay, l1, delta):
    w, g, h = flat(w), flat(g), flat(h)
    _update[grid(w.size)](w, g, h, *f64(lr, grad_scale, decay), bool(l1), *f64(delta))
