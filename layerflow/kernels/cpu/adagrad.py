"""AdaGrad (Duchi et al. 2011), Caffe's form, one fused pass per param:
g' = s*g + regularization; h += g'^2; w -= lr * g' / (sqrt(h) + delta)."""
import math

from numba import njit

from .regularize import regularization


@njit(cache=True, error_model="numpy")
def adagrad_update(w, g, h, lr, grad_scale, decay, l1, delta):
    for i in range(w.size):
        wi = w[i]
        reg = regularization(wi, decay, l1)
        gi = grad_scale * g[i] + reg
        hi = h[i] + gi * gi
        h[i] = hi
        w[i] = wi - lr * gi / (math.sqrt(hi) + delta)
