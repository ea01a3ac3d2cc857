"""AdaDelta, Caffe's form (`momentum` is the decay rho), the CUDA twin of
kernels/cpu/adadelta.py (one fused launch per param): g' = s*g + regularization;
hg = rho*hg + (1 - rho)*g'^2; u = g' * sqrt((hu + delta) / (hg + delta));
hu = rho*hu + (1 - rho)*u^2; w -= lr*u."""
import math

from numba import cuda

from .launch import f64, flat, grid
from .regularize import regularization


@cuda.jit
def _update(w, g, hg, hu, lr, grad_scale, decay, l1, rho, delta):
    i = cuda.grid(1)
    while i < w.size:
        wi = w[i]
        reg = regularization(wi, decay, l1)
        gi = grad_scale * g[i] + reg
        hgi = rho * hg[i] + (1.0 - rho) * gi * gi
        hg[i] = hgi
        u = gi * math.sqrt((hu[i] + delta) / (hgi + delta))
        hu[i] = rho * hu[i] + (1.0 - rho) * u * u
        w[i] = wi - lr * u
        i += cuda.gridsize(1)


def adadelta_update(w, g, hg, hu, lr, grad_scale, decay, l1, rho, delta):
    w, g, hg, hu = flat(w), flat(g), flat(hg), flat(hu)
    _update[grid(w.size)](w, g, hg, hu, *f64(lr, grad_scale, decay), bool(l1),
                          *f64(rho, delta))
