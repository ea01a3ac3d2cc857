"""Explicit vectors for Numba kernels: load, store, broadcast, fused multiply-add, and the
register tile of the matrix kernels (`vtile`).

Why: Numba's auto-vectorizer cannot keep a tile of accumulators in registers across a
reduction loop (it cannot prove that the arrays do not alias, and LLVM prefers 256-bit
vectors on this CPU family), so a plain-loop matrix kernel reaches 10-30 GFLOP/s. Written
with these explicit vectors the same kernel keeps 20 accumulators in registers and reaches
about 160 GFLOP/s on one AVX-512 core (`docs/convolution.md`).

A vector is one register of the CPU Numba compiles for (`isa.target()`, read at import):
64 bytes with AVX-512 (16 float32 or 8 float64 lanes, `lanes(a)`), 32 with AVX2, 16 with
NEON and the generic fallback. A vector wider than the registers would be split by LLVM
into several, and a tile sized for 32 registers then spills out of 16
(docs/convolution.md, "Every CPU").

The intrinsics do not check bounds: callers index 1-D contiguous arrays within their
size, and the tests compare every kernel with a plain reference.
"""
from llvmlite import ir
from numba import types
from numba.core.errors import TypingError
from numba.extending import intrinsic, models, register_model

from .isa import target

VECTOR_BYTES = target().vector_bytes


class Vec(types.Type):
    """A register of VECTOR_BYTES of one float dtype, or int32 lanes as many as a float
    vector's (indices that travel with the values, as max pooling's argmax)."""

    def __init__(self, dtype, lanes=None):
        self.dtype = dtype
        self.lanes = lanes or VECTOR_BYTES // (dtype.bitwidth // 8)
        super().__init__(name=f"Vec({dtype}x{self.lanes})")


@register_model(Vec)
class _VecModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        elem = dmm.lookup(fe_type.dtype).get_value_type()
        super().__init__(dmm, fe_type, ir.VectorType(elem, fe_type.lanes))


def _check_array(arr, what, ints=False):
    dtypes = (types.float32, types.float64) + ((types.int32,) if ints else ())
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and arr.layout == "C"
            and arr.dtype in dtypes):
        kinds = "float32/float64" + ("/int32" if ints else "")
        raise TypingError(f"{what} needs a 1-D contiguous {kinds} array, got {arr}")


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
    _check_array(arr, "vstore", ints=True)
    if not (isinstance(vec, Vec) and vec.dtype == arr.dtype):
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


def _splat(builder, ty, value):
    one = builder.insert_element(ir.Constant(ty, ir.Undefined), value,
                                 ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(one, ir.Constant(ty, ir.Undefined),
                                  ir.Constant(ir.VectorType(ir.IntType(32), ty.count),
                                              [0] * ty.count))


@intrinsic
def vadd(typingctx, a, b):
    """a + b, lane by lane (float vectors)."""
    if not (isinstance(a, Vec) and a == b and a.dtype != types.int32):
        raise TypingError(f"vadd needs two float vectors of one type, got {a}, {b}")

    def codegen(context, builder, sig, args):
        return builder.fadd(args[0], args[1])
    return a(a, b), codegen


@intrinsic
def vdiv(typingctx, a, b):
    """a / b, lane by lane (float vectors), correctly rounded."""
    if not (isinstance(a, Vec) and a == b and a.dtype != types.int32):
        raise TypingError(f"vdiv needs two float vectors of one type, got {a}, {b}")

    def codegen(context, builder, sig, args):
        return builder.fdiv(args[0], args[1])
    return a(a, b), codegen


@intrinsic
def vselect_gt(typingctx, a, b, x, y):
    """Lane by lane, x where a > b (false for NaN), else y; a, b float vectors and x, y
    vectors of the same lanes (float or int32)."""
    if not (isinstance(a, Vec) and a == b and isinstance(x, Vec) and x == y
            and x.lanes == a.lanes):
        raise TypingError(f"vselect_gt needs a, b and x, y vectors of equal lanes, got "
                          f"{a}, {b}, {x}, {y}")

    def codegen(context, builder, sig, args):
        mask = builder.fcmp_ordered(">", args[0], args[1])
        return builder.select(mask, args[2], args[3])
    return x(a, b, x, y), codegen


@intrinsic
def vload_index(typingctx, arr, idx, like):
    """arr[idx : idx + n] of an int32 array, n the lanes of like's dtype (indices that go
    with vectors of like)."""
    _check_array(like, "vload_index")
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and arr.layout == "C"
            and arr.dtype == types.int32):
        raise TypingError(f"vload_index needs a 1-D contiguous int32 array, got {arr}")
    vt = Vec(types.int32, Vec(like.dtype).lanes)

    def codegen(context, builder, sig, args):
        ptr = _address(context, builder, sig.args[0], args[0], args[1])
        vptr = builder.bitcast(ptr, context.get_value_type(vt).as_pointer())
        return builder.load(vptr, align=4)
    return vt(arr, idx, like), codegen


@intrinsic
def vshift(typingctx, vec, k):
    """vec + k in every lane of an int32 vector."""
    if not (isinstance(vec, Vec) and vec.dtype == types.int32):
        raise TypingError(f"vshift needs an int32 vector, got {vec}")

    def codegen(context, builder, sig, args):
        ty = args[0].type
        return builder.add(args[0], _splat(builder, ty, builder.trunc(args[1], ir.IntType(32))))
    return vec(vec, k), codegen


@intrinsic
def vgather(typingctx, arr, base, offsets):
    """arr[base + offsets[l]] in lane l (one gather instruction with AVX-512)."""
    _check_array(arr, "vgather")
    vt = Vec(arr.dtype)
    if not (isinstance(offsets, Vec) and offsets.dtype == types.int32
            and offsets.lanes == vt.lanes):
        raise TypingError(f"vgather needs {vt.lanes} int32 offsets, got {offsets}")

    def codegen(context, builder, sig, args):
        ty = context.get_value_type(vt)
        i64 = ir.IntType(64)
        v64 = ir.VectorType(i64, vt.lanes)
        start = _address(context, builder, sig.args[0], args[0], args[1])
        item = ir.Constant(v64, [vt.dtype.bitwidth // 8] * vt.lanes)
        addr = builder.add(_splat(builder, v64, builder.ptrtoint(start, i64)),
                           builder.mul(builder.sext(args[2], v64), item))
        ptrs = builder.inttoptr(addr, ir.VectorType(start.type, vt.lanes))
        mask = ir.Constant(ir.VectorType(ir.IntType(1), vt.lanes), [1] * vt.lanes)
        suffix = "f32" if vt.dtype == types.float32 else "f64"
        name = f"llvm.masked.gather.v{vt.lanes}{suffix}.v{vt.lanes}p0"
        # LLVM 22 (llvmlite 0.50, numba 0.68) form: the alignment is no longer an operand
        fnty = ir.FunctionType(ty, [ptrs.type, mask.type, ty])
        operands = [ptrs, mask, ir.Constant(ty, ir.Undefined)]
        fn = builder.module.declare_intrinsic(name, (), fnty)
        return builder.call(fn, operands)
    return vt(arr, base, offsets), codegen


def _first(builder, lanes, n):
    """The mask of lanes 0 .. n - 1."""
    i32 = ir.IntType(32)
    iota = ir.Constant(ir.VectorType(i32, lanes), list(range(lanes)))
    return builder.icmp_signed("<", iota,
                               _splat(builder, ir.VectorType(i32, lanes), builder.trunc(n, i32)))


@intrinsic
def vload_n(typingctx, arr, idx, n):
    """arr[idx : idx + n] in the first n lanes (n <= lanes), 0 in the others; nothing past
    idx + n is read."""
    _check_array(arr, "vload_n")
    vt = Vec(arr.dtype)

    def codegen(context, builder, sig, args):
        ty = context.get_value_type(vt)
        ptr = _address(context, builder, sig.args[0], args[0], args[1])
        mask = _first(builder, vt.lanes, args[2])
        suffix = "f32" if vt.dtype == types.float32 else "f64"
        fn = builder.module.declare_intrinsic(          # LLVM 22's form, as vgather's
            f"llvm.masked.load.v{vt.lanes}{suffix}.p0", (),
            ir.FunctionType(ty, [ptr.type, mask.type, ty]))
        return builder.call(fn, [ptr, mask, ir.Constant(ty, None)])
    return vt(arr, idx, n), codegen


@intrinsic
def vstore_n(typingctx, arr, idx, vec, n):
    """arr[idx : idx + n] = the first n lanes of vec (n <= lanes); nothing else is written."""
    _check_array(arr, "vstore_n")
    if vec != Vec(arr.dtype):
        raise TypingError(f"vstore_n of {vec} into an array of {arr.dtype}")

    def codegen(context, builder, sig, args):
        ty = args[2].type
        ptr = _address(context, builder, sig.args[0], args[0], args[1])
        mask = _first(builder, ty.count, args[3])
        suffix = "f32" if sig.args[2].dtype == types.float32 else "f64"
        fn = builder.module.declare_intrinsic(
            f"llvm.masked.store.v{ty.count}{suffix}.p0", (),
            ir.FunctionType(ir.VoidType(), [ty, ptr.type, mask.type]))
        builder.call(fn, [args[2], ptr, mask])
        return context.get_dummy_value()
    return types.none(arr, idx, vec, n), codegen


def _tile_shape(shape):
    """(rows, vecs) of a tile shape given as a pair of tuples ((0,) * rows, (0,) * vecs):
    their lengths are part of the type, so each shape compiles its own kernel."""
    if not (isinstance(shape, types.BaseTuple) and len(shape) == 2
            and all(isinstance(t, types.BaseTuple) and len(t) > 0 for t in shape)):
        raise TypingError(f"a tile shape is ((0,) * rows, (0,) * vecs), got {shape}")
    return len(shape[0]), len(shape[1])


NO_UNROLL = True


def _no_unroll(module):
    """Loop metadata that keeps LLVM from unrolling the tile's loop: unrolled twice, it
    hoists the next step's R broadcasts above this step's FMAs, and those extra live
    registers spill even a tile that fits (10 x 2 on AVX-512: 20 stack accesses a step)."""
    opt = module.add_metadata([ir.MetaDataString(module, "llvm.loop.unroll.disable")])
    tag = ir.MetaDataString(module, f"layerflow.vtile.{len(module.metadata)}")
    loop = module.add_metadata([tag, opt])          # unique, then made to name itself
    loop.operands = (loop, opt)
    return loop


@intrinsic
def vtile(typingctx, x, rows, r0, offs, i0, i1, b, b0, acc, at, shape):
    """The register tile of rows R x vecs V vectors (shape ((0,) * R, (0,) * V)):

        acc[at + W r + L v : ... + L] = sum_{i0 <= i < i1} x[rows[r0 + r] + offs[i]]
                                        * b[b0 + W i + L v : ... + L]

    W = V L. Each step loads V vectors of b, broadcasts R values of x and does R V fused
    multiply-adds (mul + add where the CPU has no FMA) into R V accumulators that stay in
    registers (SSA values of the loop, as a hand-unrolled kernel's locals). rows and offs
    are int64; one source for every ISA and tile shape."""
    _check_array(x, "vtile")
    _check_array(b, "vtile")
    _check_array(acc, "vtile")
    R, V = _tile_shape(shape)
    vt = Vec(x.dtype)
    for arr in (rows, offs):
        if not (isinstance(arr, types.Array) and arr.ndim == 1 and arr.dtype == types.int64):
            raise TypingError(f"vtile's offsets are 1-D int64 arrays, got {arr}")

    def codegen(context, builder, sig, args):
        ax, arows, ar0, aoffs, ai0, ai1, ab, ab0, aacc, aat, _ = args
        tx, trows, tr0, toffs, ti0, ti1, tb, tb0, tacc, tat, _ = sig.args
        i64 = ir.IntType(64)
        L = vt.lanes
        ty = context.get_value_type(vt)
        align = vt.dtype.bitwidth // 8

        def data(arrty, arr):
            return context.make_array(arrty)(context, builder, arr).data

        def as_i64(ty_, val):
            return context.cast(builder, val, ty_, types.int64)

        px, pb, pacc = data(tx, ax), data(tb, ab), data(tacc, aacc)
        prows, poffs = data(trows, arows), data(toffs, aoffs)
        r0_, i0_, i1_ = as_i64(tr0, ar0), as_i64(ti0, ai0), as_i64(ti1, ai1)
        b0_, at_ = as_i64(tb0, ab0), as_i64(tat, aat)
        row = [builder.load(builder.gep(prows, [builder.add(r0_, ir.Constant(i64, r))]))
               for r in range(R)]
        suffix = "f32" if vt.dtype == types.float32 else "f64"
        fma = builder.module.declare_intrinsic(f"llvm.fmuladd.v{L}{suffix}", (),
                                               ir.FunctionType(ty, [ty, ty, ty]))
        zero = ir.Constant(ty, None)
        idx0 = ir.Constant(ir.VectorType(ir.IntType(32), L), [0] * L)
        entry = builder.block
        head = builder.append_basic_block("vtile.head")
        body = builder.append_basic_block("vtile.body")
        done = builder.append_basic_block("vtile.done")
        builder.branch(head)
        builder.position_at_end(head)
        i = builder.phi(i64)
        accs = [[builder.phi(ty) for _ in range(V)] for _ in range(R)]
        builder.cbranch(builder.icmp_signed("<", i, i1_), body, done)
        builder.position_at_end(body)
        o = builder.load(builder.gep(poffs, [i]))
        base = builder.add(b0_, builder.mul(i, ir.Constant(i64, V * L)))
        panel = []
        for v in range(V):
            ptr = builder.gep(pb, [builder.add(base, ir.Constant(i64, v * L))])
            panel.append(builder.load(builder.bitcast(ptr, ty.as_pointer()), align=align))
        new = []
        for r in range(R):
            value = builder.load(builder.gep(px, [builder.add(o, row[r])]))
            s = builder.shuffle_vector(
                builder.insert_element(ir.Constant(ty, ir.Undefined), value,
                                       ir.Constant(ir.IntType(32), 0)),
                ir.Constant(ty, ir.Undefined), idx0)
            new.append([builder.call(fma, [s, panel[v], accs[r][v]]) for v in range(V)])
        nxt = builder.add(i, ir.Constant(i64, 1))
        end = builder.block
        back = builder.branch(head)
        if NO_UNROLL:
            back.set_metadata("llvm.loop", _no_unroll(builder.module))
        i.add_incoming(i0_, entry)
        i.add_incoming(nxt, end)
        for r in range(R):
            for v in range(V):
                accs[r][v].add_incoming(zero, entry)
                accs[r][v].add_incoming(new[r][v], end)
        builder.position_at_end(done)
        for r in range(R):
            for v in range(V):
                ptr = builder.gep(pacc, [builder.add(at_, ir.Constant(i64, (r * V + v) * L))])
                builder.store(accs[r][v], builder.bitcast(ptr, ty.as_pointer()), align=align)
        return context.get_dummy_value()
    return types.none(x, rows, r0, offs, i0, i1, b, b0, acc, at, shape), codegen
