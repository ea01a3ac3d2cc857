"""SGD with momentum, Caffe's form: g' = s*g + decay*w (L2) or decay*sign(w) (L1);
h = momentum*h + lr*g'; w -= h."""
from numba import njit


@njit(cache=True)
def sgd_update(w, g, h, lr, momentum, grad_scale, decay, l1):
    for i in range(w.size):
        if l1:
            reg = decay * (1.0 if w[i] > 0 else (-1.0 if w[i] < 0 else 0.0))
        else:
            reg = decay * w[i]
        v = momentum * h[i] + lr * (grad_scale * g[i] + reg)
        h[i] = v
        w[i] -= v
