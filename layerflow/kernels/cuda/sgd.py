"""SGD with momentum, Caffe's form, the CUDA twin of kernels/cpu/sgd.py (one fused launch per
param): g' = s*g + decay*w (L2) or s*g + decay*sign(w) (L1); h = momentum*h + lr*g'; w -= h.
Scalars stay float64 as in the CPU loop, so both round alike."""
from numba import cuda

from .launch import f64, flat, grid
from .regularize import regularization


@cuda.jit
def _update(w, g, h, lr, momentum, grad_scale, decay, l1):
    i = cuda.grid(1)
    while i < w.size:
        wi = w[i]
        reg = regularization(wi, decay, l1)
        v = momentum * h[i] + lr * (grad_scale * g[i] + reg)
        h[i] = v
        w[i] = wi - v
        i += cuda.gridsize(1)


def sgd_update(w, g, h, lr, momentum, grad_scale, decay, l1):
    w, g, h = flat(w), flat(g), flat(h)
    _update[grid(w.size)](w, g, h, *f64(lr, momentum, grad_scale, decay), bool(l1))
