"""Adam, Caffe's form, the CUDA twin of kernels/cpu/adam.py (one fused launch per param):
g' = s*g + regularization; m = b1*m + (1 - b1)*g'; v = b2*v + (1 - b2)*g'^2;
w -= lr * correction * m / (sqrt(v) + delta), correction = sqrt(1 - b2^t) / (1 - b1^t)
given by the caller."""
import math

from numba import cuda

from .launch import f64, flat, grid
from .regularize import regularization


@cuda.jit
def _update(w, g, m, v, lr, grad_scale, decay, l1, beta1, beta2, delta, correction):
    i = cuda.grid(1)
    while i < w.size:
        wi = w[i]
        reg = regularization(wi, decay, l1)
        gi = grad_scale * g[i] + reg
        mi = beta1 * m[i] + (1.0 - beta1) * gi
        vi = beta2 * v[i] + (1.0 - beta2) * gi * gi
        m[i] = mi
        v[i] = vi
        w[i] = wi - lr * correction * mi / (math.sqrt(vi) + delta)
        i += cuda.gridsize(1)


def adam_update(w, g, m, v, lr, grad_scale, decay, l1, beta1, beta2, delta, correction):
    w, g, m, v = flat(w), flat(g), flat(m), flat(v)
    _update[grid(w.size)](w, g, m, v, *f64(lr, grad_scale, decay), bool(l1),
                          *f64(beta1, beta2, delta, correction))
