"""`fexp(x)`: exp that LLVM can vectorize in float32 loops (Numba here has no vector math
library, so `math.exp` is a scalar libm call in every loop that uses it).

float32: Cephes' expf method, in plain arithmetic: n = round(x log2 e), r = x - n ln 2 (in
two parts, exact), exp(r) by a degree-6 polynomial on [-ln2/2, ln2/2], times 2^n built from
its exponent bits (as two factors, so that results down to the denormals are right). Within
2 ulp of libm's expf over the whole float32 range (tests/layers/test_fastexp.py checks every
2^-7 step from -104 to 89); overflow gives inf, underflow 0, NaN stays NaN.
float64: `math.exp` itself (the float64 tests compare at 1e-10).
"""
import math

import numpy as np
from llvmlite import ir
from numba import types
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload

F = np.float32
LOG2E = F(1.4426950408889634)
LN2_HI = F(0.693359375)
LN2_LO = F(-2.12194440e-4)
P = tuple(F(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                         1.6666665459e-1, 5.0000001201e-1))
LO, HI, HALF, ONE = F(-104.0), F(88.8), F(0.5), F(1.0)


@intrinsic
def _pow2(typingctx, n):
    """2^n as float32 for an integer n in [-126, 127], from its exponent bits."""
    if not isinstance(n, types.Integer):
        raise TypingError(f"_pow2 needs an integer, got {n}")

    def codegen(context, builder, sig, args):
        i32 = ir.IntType(32)
        k = args[0] if n.bitwidth == 32 else (builder.trunc(args[0], i32) if n.bitwidth > 32
                                              else builder.sext(args[0], i32))
        bits = builder.shl(builder.add(k, ir.Constant(i32, 127)), ir.Constant(i32, 23))
        return builder.bitcast(bits, ir.FloatType())
    return types.float32(n), codegen


def fexp(x):
    """exp(x); vectorizable in float32 when called from Numba code."""
    return math.exp(x)


def _exp32(x):
    xc = min(max(x, LO), HI)
    n = np.floor(xc * LOG2E + HALF)
    r = xc - n * LN2_HI - n * LN2_LO
    p = P[0]
    p = p * r + P[1]
    p = p * r + P[2]
    p = p * r + P[3]
    p = p * r + P[4]
    p = p * r + P[5]
    p = p * r * r + r + ONE
    k = np.int32(n)              # n is in [-151, 129]: int32 arithmetic is exact
    k1 = k >> 1
    y = p * _pow2(k1) * _pow2(k - k1)
    return y if x == x else x


@overload(fexp, inline="always")
def _fexp(x):
    if x == types.float32:
        return _exp32
    if isinstance(x, types.Float):
        return lambda x: math.exp(x)
    raise TypingError(f"fexp needs a float, got {x}")
