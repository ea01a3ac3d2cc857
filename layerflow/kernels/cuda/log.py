"""Log kernels, the CUDA twins of kernels/cpu/log.py: y = ln(shift + scale * x) / ln(base)
(`inv_log_base` = 1 / ln(base)); dx = dy * scale / (ln(base) * (shift + scale * x)).
A zero argument gives -inf and inf as on the CPU (no exception on a GPU). Device arrays of
any shape, indexed flat; grid sized inside."""
import math

from numba import cuda

from .launch import flat, grid


@cuda.jit
def _forward(x, scale, shift, inv_log_base, out):
    i = cuda.grid(1)
    while i < x.size:
        out[i] = math.log(shift + scale * x[i]) * inv_log_base
        i += cuda.gridsize(1)


@cuda.jit
def _backward(x, dy, scale, shift, inv_log_base, dx):
    k = scale * inv_log_base
    i = cuda.grid(1)
    while i < x.size:
        dx[i] = dy[i] * k / (shift + scale * x[i])
        i += cuda.gridsize(1)


def log_forward(x, scale, shift, inv_log_base, out):
    x, out = flat(x), flat(out)
    t = out.dtype.type
    _forward[grid(x.size)](x, t(scale), t(shift), t(inv_log_base), out)


def log_backward(x, dy, scale, shift, inv_log_base, dx):
    x, dy, dx = flat(x), flat(dy), flat(dx)
    t = dx.dtype.type
    _backward[grid(x.size)](x, dy, t(scale), t(shift), t(inv_log_base), dx)
