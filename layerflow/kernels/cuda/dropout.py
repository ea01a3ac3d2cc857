"""Dropout kernels, the CUDA twins of kernels/cpu/dropout.py, with inverted scaling:
y = x * [u >= ratio] / (1 - ratio); dx = dy * [u >= ratio] / (1 - ratio).

The uniforms u are made on the device by `dropout_uniform(seed, u)`: a counter-based hash
of (seed, element index), so that a seed gives the same u on every GPU, every launch
geometry and in the simulator, with no generator state to keep or snapshot (the layer
draws one 64-bit seed per forward from its seeded generator). The hash is Wellons'
`lowbias32` applied twice, keyed by the seed's two 32-bit halves; u = (h >> 8) * 2^-24 is
exact in float32 and float64 alike. Products stay below 2^64 (32-bit by 32-bit in uint64),
so nothing wraps, in the simulator's numpy either."""
import numpy as np
from numba import cuda

from .launch import f64, flat, grid

_M32 = np.uint64(0xFFFFFFFF)
_GOLDEN = np.uint64(0x9E3779B9)
_C1 = np.uint64(0x7FEB352D)
_C2 = np.uint64(0x846CA68B)
_S8 = np.uint64(8)
_S15 = np.uint64(15)
_S16 = np.uint64(16)
_TO_UNIT = 1.0 / (1 << 24)


@cuda.jit(device=True, inline=True)
def _mix32(x):
    """lowbias32 on a uint64 holding 32 bits."""
    x ^= x >> _S16
    x = (x * _C1) & _M32
    x ^= x >> _S15
    x = (x * _C2) & _M32
    x ^= x >> _S16
    return x


@cuda.jit(device=True, inline=True)
def hash_uniform(k0, k1, i):
    """U[0, 1) with 24 random bits from keys k0, k1 (32-bit, uint64) and index i < 2^32."""
    h = _mix32(((np.uint64(i) * _GOLDEN) & _M32) ^ k0)
    h = _mix32(h ^ k1)
    return (h >> _S8) * _TO_UNIT


@cuda.jit
def _uniform(k0, k1, u):
    i = cuda.grid(1)
    while i < u.size:
        u[i] = hash_uniform(k0, k1, i)
        i += cuda.gridsize(1)


@cuda.jit
def _forward(x, u, ratio, scale, out):
    zero = out.dtype.type(0)
    i = cuda.grid(1)
    while i < x.size:
        out[i] = x[i] * scale if u[i] >= ratio else zero
        i += cuda.gridsize(1)


@cuda.jit
def _backward(dy, u, ratio, scale, dx):
    zero = dx.dtype.type(0)
    i = cuda.grid(1)
    while i < dy.size:
        dx[i] = dy[i] * scale if u[i] >= ratio else zero
        i += cuda.gridsize(1)


def seed_keys(seed):
    """The two 32-bit keys of a 64-bit seed, mixed so that nearby seeds share nothing."""
    seed = int(seed) & 0xFFFFFFFFFFFFFFFF
    return np.uint64(seed & 0xFFFFFFFF), np.uint64(seed >> 32)


def dropout_uniform(seed, u):
    """u[i] = U[0, 1) from (seed, i); u: a device array of fewer than 2^32 elements."""
    u = flat(u)
    if u.size >= 1 << 32:
        raise ValueError(f"dropout_uniform: {u.size} elements, the hash indexes fewer than 2^32")
    k0, k1 = seed_keys(seed)
    _uniform[grid(u.size)](k0, k1, u)


def dropout_forward(x, u, ratio, scale, out):
    """The ratio stays float64, as in the CPU loop, so that both keep the same elements."""
    x, u, out = flat(x), flat(u), flat(out)
    _forward[grid(x.size)](x, u, *f64(ratio), out.dtype.type(scale), out)


def dropout_backward(dy, u, ratio, scale, dx):
    dy, u, dx = flat(dy), flat(u), flat(dx)
    _backward[grid(dy.size)](dy, u, *f64(ratio), dx.dtype.type(scale), dx)
