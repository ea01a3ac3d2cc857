"""AdamW (Loshchilov & Hutter 2019): Adam on the gradient alone, with the weight decay
applied to the weights directly (decoupled), one fused pass per param:
m = b1*m + (1 - b1)*s*g; v = b2*v + (1 - b2)*(s*g)^2;
w -= lr * (correction * m / (sqrt(v) + delta) + decay * w)   (decay * sign(w) for L1)."""
import math

from numba import njit

from .regularize import regularization


@njit(cache=True, error_model="numpy")
def adamw_update(w, g, m, v, lr, grad_scale, decay, l1, beta1, beta2, delta, correction):
    for i in range(w.size):
        wi = w[i]
        reg = regularization(wi, decay, l1)
        gi = grad_scale * g[i]
        mi = beta1 * m[i] + (1.0 - beta1) * gi
        vi = beta2 * v[i] + (1.0 - beta2) * gi * gi
        m[i] = mi
        v[i] = vi
        w[i] = wi - lr * (correction * mi / (math.sqrt(vi) + delta) + reg)
