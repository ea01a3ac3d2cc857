"""The weight-decay term every CUDA update kernel adds, the device twin of
kernels/cpu/regularize.py: decay * w (L2) or decay * sign(w) (L1)."""
from numba import cuda


@cuda.jit(device=True, inline=True)
def regularization(w, decay, l1):
    if l1:
        return decay * (1.0 if w > 0 else (-1.0 if w < 0 else 0.0))
    return decay * w
