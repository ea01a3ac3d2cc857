"""AdaDelta (Zeiler 2012), Caffe's form (`momentum` is the decay rho), one fused pass:
g' = s*g + regularization; hg = rho*hg + (1 - rho)*g'^2;
u = g' * sqrt((hu + delta) / (hg + delta)); hu = rho*hu + (1 - rho)*u^2; w -= lr*u."""
import math

from numba import njit

from .regularize import regularization


@njit(cache=True, error_model="numpy")
def adadelta_update(w, g, hg, hu, lr, grad_scale, decay, l1, rho, delta):
    for i in range(w.size):
        wi = w[i]
        reg = regularization(wi, decay, l1)
        gi = grad_scale * g[i] + reg
        hgi = rho * hg[i] + (1.0 - rho) * gi * gi
        hg[i] = hgi
        u = gi * math.sqrt((hu[i] + delta) / (hgi + delta))
        hu[i] = rho * hu[i] + (1.0 - rho) * u * u
        w[i] = wi - lr * u
