"""AbsVal kernels: y = |x|; dx = sign(x) * dy (sign(0) = 0, as Caffe's caffe_cpu_sign)."""
from numba import njit


@njit(cache=True)
def absval_forward(x, out):
    for i in range(x.size):
        out[i] = abs(x[i])


@njit(cache=True)
def absval_backward(x, dy, dx):
    zero = x.dtype.type(0)
    for i in range(x.size):
        v = x[i]
        dx[i] = dy[i] if v > 0 else (-dy[i] if v < 0 else zero)
