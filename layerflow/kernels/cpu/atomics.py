"""Flags shared between threads without the GIL: an acquire load, a release store, and a
bounded spin until a flag holds a value.

Why: a thread that sleeps on a lock is woken by the kernel, and on the 2-vCPU test machine
(a VM whose idle vCPUs halt at once) that took 40-70 us, about half of a MobileNet layer at
batch 1. `threads.run_parallel` lets the calling thread spin here, briefly and without the
GIL, for the flag each helper sets when its part is done, and sleeps only if it waits
longer (`wait_for` returns False). The flags are int64 arrays, one value per 64-byte line.
"""
import platform
import time

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

STRIDE = 8                  # int64 values per 64-byte line: one flag per line
_PAUSE = platform.machine().lower() in ("x86_64", "amd64")


@intrinsic
def _load_acquire(typingctx, arr, i):
    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        return builder.load_atomic(builder.gep(data, [args[1]]), "acquire", 8)
    return types.int64(arr, i), codegen


@intrinsic
def _store_release(typingctx, arr, i, value):
    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        builder.store_atomic(args[2], builder.gep(data, [args[1]]), "release", 8)
        return context.get_dummy_value()
    return types.void(arr, i, value), codegen


@intrinsic
def _relax(typingctx):
    """The x86 `pause` hint in a spin loop (nothing elsewhere)."""
    def codegen(context, builder, signature, args):
        if _PAUSE:
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse2.pause")
            builder.call(fn, [])
        return context.get_dummy_value()
    return types.void(), codegen


@njit(cache=True, nogil=True)
def publish(flags, i, value):
    """flags[i] = value, after every write this thread made before it."""
    _store_release(flags, i, value)


@njit(cache=True, nogil=True)
def wait_for(flags, i, value, spins):
    """Spin (without the GIL) until flags[i] == value, at most `spins` times; whether it
    was seen. What the publishing thread wrote before it is then visible."""
    for _ in range(spins):
        if _load_acquire(flags, i) == value:
            return True
        _relax()
    return _load_acquire(flags, i) == value


def flags(n):
    """n flags, each on its own cache line (index k * STRIDE)."""
    return np.zeros(n * STRIDE, np.int64)


def spins_for(seconds):
    """How many `wait_for` iterations take about `seconds` on this CPU (measured once:
    `pause` costs 10-140 cycles depending on the CPU)."""
    probe = flags(1)
    wait_for(probe, 0, 1, 10)
    n = 20000
    t = time.perf_counter()
    wait_for(probe, 0, 1, n)
    per = max((time.perf_counter() - t) / n, 1e-9)
    return max(1, int(seconds / per))


@njit(cache=True, nogil=True)
def wait_change(flags, i, old, spins):
    """Spin (without the GIL) until flags[i] != old, at most `spins` times; the value."""
    for _ in range(spins):
        v = _load_acquire(flags, i)
        if v != old:
            return v
        _relax()
    return _load_acquire(flags, i)


@njit(cache=True, nogil=True)
def post(flags, i, value, delay):
    """publish, then spin `delay` times without the GIL: a helper spinning for this flag
    takes the GIL and starts its part meanwhile, instead of sleeping on the GIL."""
    _store_release(flags, i, value)
    for _ in range(delay):
        _relax()


@njit(cache=True, nogil=True)
def publish_and_wait(flags, i, value, wait_flags, j, old, spins):
    """publish flags[i] = value, then wait_for wait_flags[j] to differ from `old` (at most
    `spins` times), all without the GIL; the value seen at j."""
    _store_release(flags, i, value)
    return wait_change(wait_flags, j, old, spins)
