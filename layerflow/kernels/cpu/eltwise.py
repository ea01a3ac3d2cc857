"""Eltwise kernels on flat arrays: weighted sum, product, maximum with the argmax kept.

SUM:  y = sum_k c_k x_k,          dx_k = c_k dy
PROD: y = prod_k x_k,             dx_k = dy prod_{j != k} x_j  (or dy y / x_k, unstable)
MAX:  y = max_k x_k, a = argmax,  dx_k = dy where a == k, else 0 (ties go to the first)
"""
from numba import njit


@njit(cache=True)
def weighted_sum2(a, ca, b, cb, y):
    for i in range(y.size):
        y[i] = ca * a[i] + cb * b[i]


@njit(cache=True)
def axpy(x, c, y):
    """y += c * x."""
    for i in range(y.size):
        y[i] += c * x[i]


@njit(cache=True)
def scale_into(x, c, y):
    """y = c * x."""
    for i in range(y.size):
        y[i] = c * x[i]


@njit(cache=True)
def multiply2(a, b, y):
    for i in range(y.size):
        y[i] = a[i] * b[i]


@njit(cache=True)
def multiply_into(x, y):
    """y *= x."""
    for i in range(y.size):
        y[i] *= x[i]


@njit(cache=True, error_model="numpy")
def divide_product(dy, y, x, dx):
    """dx = dy * y / x (Caffe's stable_prod_grad: false; inf/nan where x is 0, as Caffe)."""
    for i in range(dx.size):
        dx[i] = dy[i] * y[i] / x[i]


@njit(cache=True)
def max2(a, b, y, arg):
    for i in range(y.size):
        if b[i] > a[i]:
            y[i] = b[i]
            arg[i] = 1
        else:
            y[i] = a[i]
            arg[i] = 0


@njit(cache=True)
def max_update(x, k, y, arg):
    for i in range(y.size):
        if x[i] > y[i]:
            y[i] = x[i]
            arg[i] = k


@njit(cache=True)
def max_backward(dy, arg, k, dx):
    for i in range(dx.size):
        dx[i] = dy[i] if arg[i] == k else 0.0
