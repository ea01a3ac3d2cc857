"""The weight-decay term every solver update kernel adds: decay * w (L2) or
decay * sign(w) (L1). Inlined into each fused update loop."""
from numba import njit


@njit(cache=True, inline="always")
def regularization(w, decay, l1):
    if l1:
        return decay * (1.0 if w > 0 else (-1.0 if w < 0 else 0.0))
    return decay * w
