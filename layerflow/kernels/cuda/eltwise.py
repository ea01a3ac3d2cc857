"""Eltwise kernels on flat device arrays, the CUDA twins of kernels/cpu/eltwise.py:

SUM:  y = sum_k c_k x_k,          dx_k = c_k dy
PROD: y = prod_k x_k,             dx_k = dy prod_{j != k} x_j  (or dy y / x_k, unstable)
MAX:  y = max_k x_k, a = argmax,  dx_k = dy where a == k, else 0 (ties go to the first)
Coefficients: a Python float computes in float64, a numpy scalar in its own type, as in
the CPU loops (launch.scalar)."""
from numba import cuda

from .launch import flat, grid, scalar


@cuda.jit
def _weighted_sum2(a, ca, b, cb, y):
    i = cuda.grid(1)
    while i < y.size:
        y[i] = ca * a[i] + cb * b[i]
        i += cuda.gridsize(1)


@cuda.jit
def _axpy(x, c, y):
    i = cuda.grid(1)
    while i < y.size:
        y[i] += c * x[i]
        i += cuda.gridsize(1)


@cuda.jit
def _scale_into(x, c, y):
    i = cuda.grid(1)
    while i < y.size:
        y[i] = c * x[i]
        i += cuda.gridsize(1)


@cuda.jit
def _multiply2(a, b, y):
    i = cuda.grid(1)
    while i < y.size:
        y[i] = a[i] * b[i]
        i += cuda.gridsize(1)


@cuda.jit
def _multiply_into(x, y):
    i = cuda.grid(1)
    while i < y.size:
        y[i] *= x[i]
        i += cuda.gridsize(1)


@cuda.jit
def _divide_product(dy, y, x, dx):
    i = cuda.grid(1)
    while i < dx.size:
        dx[i] = dy[i] * y[i] / x[i]
        i += cuda.gridsize(1)


@cuda.jit
def _max2(a, b, y, arg):
    i = cuda.grid(1)
    while i < y.size:
        if b[i] > a[i]:
            y[i] = b[i]
            arg[i] = 1
        else:
            y[i] = a[i]
            arg[i] = 0
        i += cuda.gridsize(1)


@cuda.jit
def _max_update(x, k, y, arg):
    i = cuda.grid(1)
    while i < y.size:
        if x[i] > y[i]:
            y[i] = x[i]
            arg[i] = k
        i += cuda.gridsize(1)


@cuda.jit
def _max_backward(dy, arg, k, dx):
    zero = dx.dtype.type(0)
    i = cuda.grid(1)
    while i < dx.size:
        dx[i] = dy[i] if arg[i] == k else zero
        i += cuda.gridsize(1)


def weighted_sum2(a, ca, b, cb, y):
    y = flat(y)
    _weighted_sum2[grid(y.size)](flat(a), scalar(ca), flat(b), scalar(cb), y)


def axpy(x, c, y):
    """y += c * x."""
    y = flat(y)
    _axpy[grid(y.size)](flat(x), scalar(c), y)


def scale_into(x, c, y):
    """y = c * x."""
    y = flat(y)
    _scale_into[grid(y.size)](flat(x), scalar(c), y)


def multiply2(a, b, y):
    y = flat(y)
    _multiply2[grid(y.size)](flat(a), flat(b), y)


def multiply_into(x, y):
    """y *= x."""
    y = flat(y)
    _multiply_into[grid(y.size)](flat(x), y)


def divide_product(dy, y, x, dx):
    """dx = dy * y / x (Caffe's stable_prod_grad: false; inf/nan where x is 0, as Caffe)."""
    dx = flat(dx)
    _divide_product[grid(dx.size)](flat(dy), flat(y), flat(x), dx)


def max2(a, b, y, arg):
    y = flat(y)
    _max2[grid(y.size)](flat(a), flat(b), y, flat(arg))


def max_update(x, k, y, arg):
    y = flat(y)
    _max_update[grid(y.size)](flat(x), k, y, flat(arg))


def max_backward(dy, arg, k, dx):
    dx = flat(dx)
    _max_backward[grid(dx.size)](flat(dy), flat(arg), k, dx)
