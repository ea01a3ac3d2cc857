"""Log kernels: y = ln(shift + scale * x) / ln(base); dx = dy * scale / (ln(base) *
(shift + scale * x)). `inv_log_base` is 1 / ln(base) (1 for base e). error_model="numpy":
a zero base gives inf, not an exception. `flog` is a log LLVM vectorizes in float32."""
from numba import njit

from .fastlog import flog


@njit(cache=True, error_model="numpy")
def log_forward(x, scale, shift, inv_log_base, out):
    for i in range(x.size):
        out[i] = flog(shift + scale * x[i]) * inv_log_base


@njit(cache=True, error_model="numpy")
def log_backward(x, dy, scale, shift, inv_log_base, dx):
    k = scale * inv_log_base
    for i in range(x.size):
        dx[i] = dy[i] * k / (shift + scale * x[i])
