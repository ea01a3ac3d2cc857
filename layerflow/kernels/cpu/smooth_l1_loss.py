"""Smooth L1 loss kernels (Fast R-CNN's), flat arrays.

d = w_in * (a - b); per element e = 0.5 sigma2 d^2 if |d| < 1 / sigma2, else
|d| - 0.5 / sigma2; loss = sum w_out * e. The kept gradient g = w_in * w_out * e'(d),
e'(d) = sigma2 d or sign(d), so that da = alpha * g and db = -alpha * g. Without weight
bottoms, w_in = w_out = 1 (pass empty arrays and `has_in` / `has_out` false)."""
from numba import njit

REDUCE = {"reassoc", "contract"}      # the loss sum may be reordered, so that it vectorizes


@njit(cache=True, error_model="numpy", fastmath=REDUCE)
def smooth_l1_forward(a, b, w_in, has_in, w_out, has_out, sigma2, grad):
    """Fill `grad`; return the summed loss. Selects instead of branches, constants in the
    data's dtype, so that the loop vectorizes."""
    one = a.dtype.type(1)
    half = a.dtype.type(0.5)
    inv = one / sigma2
    total = 0.0
    for i in range(a.size):
        d = a[i] - b[i]
        if has_in:
            d *= w_in[i]
        ad = abs(d)
        small = ad < inv
        e = half * sigma2 * d * d if small else ad - half * inv
        g = sigma2 * d if small else (one if d > 0 else -one)
        if has_in:
            g *= w_in[i]
        if has_out:
            e *= w_out[i]
            g *= w_out[i]
        grad[i] = g
        total += e
    return total
