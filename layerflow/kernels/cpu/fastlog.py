"""`flog(x)` and `flog1p(x)`: logarithms that LLVM can vectorize in float32 loops (Numba
has no vector math library here, so `math.log` / `math.log1p` are scalar libm calls).

float32 `flog`: Cephes' logf method in plain arithmetic: x = m 2^e with m in
[sqrt(1/2), sqrt 2) read from the bits, log(m) by a degree-9 polynomial, plus e ln 2 in two
parts; denormals are scaled up first. Within 2 ulp of libm's logf over the positive floats
(tests/layers/test_fastlog.py); log(0) = -inf, log(x < 0) = NaN, log(inf) = inf, NaN stays.
`flog1p(x)` = log(u) * x / (u - 1) with u = 1 + x (Goldberg's correction, exact to a few
ulp even where 1 + x rounds), x where u == 1.
float64: `math.log` and `math.log1p` themselves.
"""
import math

import numpy as np
from llvmlite import ir
from numba import types
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload

F = np.float32
Q = tuple(F(c) for c in (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1,
                         -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
                         2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1))
SQRTHF, LN2_HI, LN2_LO = F(0.707106781186547524), F(0.693359375), F(-2.12194440e-4)
TINY, SCALE_UP = F(1.17549435e-38), F(33554432.0)        # FLT_MIN, 2^25
ZERO, HALF, ONE, INF = F(0), F(0.5), F(1), F(np.inf)


@intrinsic
def _bits(typingctx, x):
    """The bits of a float32 as an int32."""
    if x != types.float32:
        raise TypingError(f"_bits needs a float32, got {x}")

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(32))
    return types.int32(x), codegen


@intrinsic
def _from_bits(typingctx, i):
    """The float32 whose bits are the integer i (truncated to 32 bits)."""
    if not isinstance(i, types.Integer):
        raise TypingError(f"_from_bits needs an integer, got {i}")

    def codegen(context, builder, sig, args):
        v = args[0]
        if i.bitwidth > 32:
            v = builder.trunc(v, ir.IntType(32))
        elif i.bitwidth < 32:
            v = builder.sext(v, ir.IntType(32))
        return builder.bitcast(v, ir.FloatType())
    return types.float32(i), codegen


def flog(x):
    """log(x); vectorizable in float32 when called from Numba code."""
    return math.log(x)


def flog1p(x):
    """log(1 + x); vectorizable in float32 when called from Numba code."""
    return math.log1p(x)


def _log32(x):
    small = x < TINY
    xs = x * SCALE_UP if small else x
    bits = _bits(xs)
    e = F((bits >> 23) & 0xFF) - F(126) - (F(25) if small else ZERO)
    m = _from_bits((bits & 0x807FFFFF) | 0x3F000000)            # in [0.5, 1)
    low = m < SQRTHF
    e = e - ONE if low else e
    m = (m + m - ONE) if low else (m - ONE)
    z = m * m
    p = Q[0]
    for k in range(1, 9):
        p = p * m + Q[k]
    y = m * z * p + e * LN2_LO - HALF * z
    r = m + y + e * LN2_HI
    r = -INF if x == ZERO else r
    r = INF if x == INF else r
    return r if x >= ZERO else (x - x) / (x - x)                # NaN for x < 0 and NaN


def _log1p32(x):
    u = x + ONE
    d = u - ONE
    return x if d == ZERO else flog(u) * (x / d)


@overload(flog, inline="always")
def _flog(x):
    if x == types.float32:
        return _log32
    if isinstance(x, types.Float):
        return lambda x: math.log(x)
    raise TypingError(f"flog needs a float, got {x}")


@overload(flog1p, inline="always")
def _flog1p(x):
    if x == types.float32:
        return _log1p32
    if isinstance(x, types.Float):
        return lambda x: math.log1p(x)
    raise TypingError(f"flog1p needs a float, got {x}")
