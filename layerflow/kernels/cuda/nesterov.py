"""Nesterov momentum, Caffe's form, the CUDA twin of kernels/cpu/nesterov.py (one fused
launch per param): g' = s*g + regularization; h_new = momentum*h + lr*g';
w -= (1 + momentum)*h_new - momentum*h."""
from numba import cuda

from .launch import f64, flat, grid
from .regularize import regularization


@cuda.jit
def _update(w, g, h, lr, momentum, grad_scale, decay, l1):
    i = cuda.grid(1)
    while i < w.size:
        wi = w[i]
        reg = regularization(wi, decay, l1)
        old = h[i]
        v = momentum * old + lr * (grad_scale * g[i] + reg)
        h[i] = v
        w[i] = wi - ((1.0 + momentum) * v - momentum * old)
        i += cuda.gridsize(1)


def nesterov_update(w, g, h, lr, momentum, grad_scale, decay, l1):
    w, g, h = flat(w), flat(g), flat(h)
    _update[grid(w.size)](w, g, h, *f64(lr, momentum, grad_scale, decay), bool(l1))
