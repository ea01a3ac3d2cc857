"""Smooth L1 loss kernels (Fast R-CNN's), flat arrays.

d = w_in * (a - b); per element e = 0.5 sigma2 d^2 if |d| < 1 / sigma2, else
|d| - 0.5 / sigma2; loss = sum w_out * e. The kept gradient g = w_in * w_out * e'(d),
e'(d) = sigma2 d or sign(d), so that da = alpha * g and db = -alpha * g. Without weight
bottoms, w_in = w_out = 1 (pass empty arrays and `has_in` / `has_out` false)."""
from numba import njit


@njit(cache=True)
def smooth_l1_forward(a, b, w_in, has_in, w_out, has_out, sigma2, grad):
    """Fill `grad`; return the summed loss."""
    inv = 1 / sigma2
    total = 0.0
    for i in range(a.size):
        d = a[i] - b[i]
        if has_in:
            d *= w_in[i]
        if abs(d) < inv:
            e = 0.5 * sigma2 * d * d
            g = sigma2 * d
        else:
            e = abs(d) - 0.5 * inv
            g = 1.0 if d > 0 else -1.0
        if has_in:
            g *= w_in[i]
        if has_out:
            e *= w_out[i]
            g *= w_out[i]
        grad[i] = g
        total += e
    return total
