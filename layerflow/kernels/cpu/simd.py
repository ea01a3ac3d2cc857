"""512-bit vectors for Numba kernels: load, store, broadcast, fused multiply-add.

Why: Numba's auto-vectorizer cannot keep a tile of accumulators in registers across a
reduction loop (it cannot prove that the arrays do not alias, and LLVM prefers 256-bit
vectors on this CPU family), so a plain-loop matrix kernel reaches 10-30 GFLOP/s. Written
with these explicit vectors the same kernel keeps 20 accumulators in registers and reaches
about 160 GFLOP/s on one AVX-512 core (`docs/convolution.md`).

A vector holds 64 bytes of the array's dtype: 16 float32 or 8 float64 lanes
(`lanes(a)`). LLVM lowers them to zmm registers with AVX-512 and to pairs (or quads) of
narrower registers elsewhere, so the kernels stay correct on any x86 or ARM CPU.

The intrinsics do not check bounds: callers index 1-D contiguous arrays within their
size, and the tests compare every kernel with a plain reference.
"""
from llvmlite import ir
from numba import types
from numba.core.errors import TypingError
from numba.extending import intrinsic, models, register_model

VECTOR_BYTES = 64


class Vec(types.Type):
    """A register of VECTOR_BYTES of one float dtype."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.lanes = VECTOR_BYTES // (dtype.bitwidth // 8)
        super().__init__(name=f"Vec({dtype}x{self.lanes})")


@register_model(Vec)
class _VecModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        elem = dmm.lookup(fe_type.dtype).get_value_type()
        super().__init__(dmm, fe_type, ir.VectorType(elem, fe_type.lanes))


def _check_array(arr, what):
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and arr.layout == "C"
            and arr.dtype in (types.float32, types.float64)):
        raise TypingError(f"{what} needs a 1-D contiguous float32/float64 array, got {arr}")


def _address(context, builder, arrty, arr, idx):
    data = context.make_array(arrty)(context, builder, arr).data
    return builder.gep(data, [idx])


@intrinsic
def lanes(typingctx, arr):
    """Number of lanes of the vectors of arr's dtype (a compile-time constant)."""
    _check_array(arr, "lanes")
    n = Vec(arr.dtype).lanes

    def codegen(context, builder, sig, args):
        return context.get_constant(types.intp, n)
    return types.intp(arr), codegen


@intrinsic
def vzero(typingctx, arr):
    """A vector of zeros of arr's dtype."""
    _check_array(arr, "vzero")
    vt = Vec(arr.dtype)

    def codegen(context, builder, sig, args):
        return ir.Constant(context.get_value_type(vt), None)
    return vt(arr), codegen


@intrinsic
def vload(typingctx, arr, idx):
    """arr[idx : idx + lanes] as a vector."""
    _check_array(arr, "vload")
    vt = Vec(arr.dtype)

    def codegen(context, builder, sig, args):
        ptr = _address(context, builder, sig.args[0], args[0], args[1])
        vptr = builder.bitcast(ptr, context.get_value_type(vt).as_pointer())
        return builder.load(vptr, align=vt.dtype.bitwidth // 8)
    return vt(arr, idx), codegen


@intrinsic
def vstore(typingctx, arr, idx, vec):
    """arr[idx : idx + lanes] = vec."""
    _check_array(arr, "vstore")
    if vec != Vec(arr.dtype):
        raise TypingError(f"vstore of {vec} into an array of {arr.dtype}")

    def codegen(context, builder, sig, args):
        ptr = _address(context, builder, sig.args[0], args[0], args[1])
        vptr = builder.bitcast(ptr, args[2].type.as_pointer())
        builder.store(args[2], vptr, align=sig.args[2].dtype.bitwidth // 8)
        return context.get_dummy_value()
    return types.none(arr, idx, vec), codegen


@intrinsic
def vbroadcast(typingctx, arr, idx):
    """arr[idx] in every lane (one broadcast load)."""
    _check_array(arr, "vbroadcast")
    vt = Vec(arr.dtype)

    def codegen(context, builder, sig, args):
        value = builder.load(_address(context, builder, sig.args[0], args[0], args[1]))
        ty = context.get_value_type(vt)
        one = builder.insert_element(ir.Constant(ty, ir.Undefined), value,
                                     ir.Constant(ir.IntType(32), 0))
        zeros = ir.Constant(ir.VectorType(ir.IntType(32), vt.lanes), [0] * vt.lanes)
        return builder.shuffle_vector(one, ir.Constant(ty, ir.Undefined), zeros)
    return vt(arr, idx), codegen


@intrinsic
def vfma(typingctx, a, b, c):
    """a * b + c, lane by lane, rounded once (LLVM's llvm.fma)."""
    if not (isinstance(a, Vec) and a == b == c):
        raise TypingError(f"vfma needs three vectors of one type, got {a}, {b}, {c}")

    def codegen(context, builder, sig, args):
        ty = args[0].type
        suffix = "f32" if sig.args[0].dtype == types.float32 else "f64"
        fn = builder.module.declare_intrinsic(f"llvm.fma.v{ty.count}{suffix}", (),
                                              ir.FunctionType(ty, [ty, ty, ty]))
        return builder.call(fn, args)
    return a(a, b, c), codegen
