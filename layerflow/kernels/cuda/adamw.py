"""AdamW, the CUDA twin of kernels/cpu/adamw.py (one fused launch per param): Adam on the
gradient alone, the weight decay applied to the weights directly (decoupled):
m = b1*m + (1 - b1)*s*g; v = b2*v + (1 - b2)*(s*g)^2;
w -= lr * (correction * m / (sqrt(v) + delta) + decay * w)   (decay * sign(w) for L1)."""
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
        gi = grad_scale * g[i]
        mi = beta1 * m[i] + (1.0 - beta1) * gi
        vi = beta2 * v[i] + (1.0 - beta2) * gi * gi
        m[i] = mi
        v[i] = vi
        w[i] = wi - lr * (correction * mi / (math.sqrt(vi) + delta) + reg)
        i += cuda.gridsize(1)


def adamw_update(w, g, m, v, lr, grad_scale, decay, l1, beta1, beta2, delta, correction):
    w, g, m, v = flat(w), flat(g), flat(m), flat(v)
    _update[grid(w.size)](w, g, m, v, *f64(lr, grad_scale, decay), bool(l1),
                          *f64(beta1, beta2, delta, correction))
