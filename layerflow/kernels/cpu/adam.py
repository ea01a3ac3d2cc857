"""Adam (Kingma & Ba 2015), Caffe's form, one fused pass per param:
g' = s*g + regularization (coupled, as L2 in the loss); m = b1*m + (1 - b1)*g';
v = b2*v + (1 - b2)*g'^2; w -= lr * correction * m / (sqrt(v) + delta), where the caller
passes correction = sqrt(1 - b2^t) / (1 - b1^t) for step t = iter + 1."""
import math

from numba import njit

from .regularize import regularization


@njit(cache=True, error_model="numpy")
def adam_update(w, g, m, v, lr, grad_scale, decay, l1, beta1, beta2, delta, correction):
    for i in range(w.size):
        wi = w[i]
        reg = regularization(wi, decay, l1)
        gi = grad_scale * g[i] + reg
        mi = beta1 * m[i] + (1.0 - beta1) * gi
        vi = beta2 * v[i] + (1.0 - beta2) * gi * gi
        m[i] = mi
        v[i] = vi
        w[i] = wi - lr * correction * mi / (math.sqrt(vi) + delta)
