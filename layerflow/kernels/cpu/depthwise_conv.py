"""Depthwise convolution kernels, direct (no im2col): output channel m reads only input
channel c = m // mult (mult = num_output / channels), with a (kh, kw) filter W[m, 0].

    y[n, m, i, j]  = b[m] + sum_{a, b} W[m, 0, a, b] x[n, c, i sh - ph + a dh, j sw - pw + b dw]
    dW[m, 0, a, b] += sum_{n, i, j} dy[n, m, i, j] x[n, c, i sh - ph + a dh, j sw - pw + b dw]
    db[m]          += sum_{n, i, j} dy[n, m, i, j]
    dx[n, c, ...]   = sum over the mult outputs of c, i, j, a, b of dy W, scattered back

Forward and weight gradient go plane by plane: each input plane is copied once into a
thread's buffer with its zero frame (`_pad_plane`), split by column phase when the stride
is 2 or more, so that every tap of every output vector is one unaligned vector load with no
bounds test, whatever the stride (`forward_geometry`). The forward computes four output
rows at a time, one vector of columns each (four independent chains of FMAs), through a
row buffer into y with a masked last vector; the weight gradient sweeps each tap's shifted
rows against dy's rows into vector accumulators. The data gradient with one output per
channel is the forward run on dy (spread out by the strides, `_spread_plane`) with the
filters turned (the layer does that); otherwise `depthwise_backward_data` scatters row
slices. The N C planes (the forward) or
the channels (the weight gradient) are cut into one run per thread (a part of `work`),
and each run owns what it writes: no racy `+=`. Loops take flat indices inside functions
of their own: slices, or array arguments of inlined helpers, cost an atomic reference-count
update each time, and a scalar index that might be negative gets Numba's wraparound test,
which keeps LLVM from vectorizing.
`depthwise_forward_reference` is the few-line loop version the tests check the fast ones
against (with PyTorch's conv2d(groups=C) besides; the turned-filter data gradient against
the scatter kernel).
"""
from llvmlite import ir
from numba import njit, prange, types
from numba.core.errors import TypingError
from numba.extending import intrinsic

from .batch_norm import affine_relu_block
from .simd import Vec, lanes, vadd, vbroadcast, vfma, vload, vstore, vzero
from .threads import run_parallel


@njit(cache=True, inline="always")
def _cols(b, W, ow, sw, pw, dw):
    """[j0, j1): the output columns whose input column j sw - pw + b dw lies in [0, W)."""
    off = b * dw - pw
    j0 = 0
    if off < 0:
        j0 = (-off + sw - 1) // sw
    j1 = ow
    # the last j with j sw + off <= W - 1
    last = W - 1 - off
    if last < 0:
        j1 = 0
    else:
        j1 = min(ow, last // sw + 1)
    if j1 < j0:
        j1 = j0
    return j0, j1, off


def _vname(ty):
    """LLVM's name of a float vector type in intrinsic names: v16f32, v8f64..."""
    return f"v{ty.count}{'f32' if isinstance(ty.element, ir.FloatType) else 'f64'}"


def _lane_mask(builder, count, n):
    """<count x i1>: lane k < n (n an int64)."""
    iota = ir.Constant(ir.VectorType(ir.IntType(64), count), list(range(count)))
    splat = builder.insert_element(ir.Constant(iota.type, ir.Undefined), n,
                                   ir.Constant(ir.IntType(32), 0))
    splat = builder.shuffle_vector(splat, ir.Constant(iota.type, ir.Undefined),
                                   ir.Constant(ir.VectorType(ir.IntType(32), count), [0] * count))
    return builder.icmp_signed("<", iota, splat)


@intrinsic
def _vload_n(typingctx, arr, idx, n):
    """arr[idx : idx + n] in the first n lanes (n <= lanes), zeros after; reads nothing past
    idx + n (LLVM's masked load: AVX-512 and AVX2 have it in one instruction)."""
    vt = Vec(arr.dtype)

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        ptr = builder.gep(data, [args[1]])
        ty = context.get_value_type(vt)
        vptr = builder.bitcast(ptr, ty.as_pointer())
        mask = _lane_mask(builder, vt.lanes, args[2])
        fn = builder.module.declare_intrinsic(
            f"llvm.masked.load.{_vname(ty)}.p0", (),
            ir.FunctionType(ty, [vptr.type, ir.IntType(32), mask.type, ty]))
        return builder.call(fn, [vptr, ir.Constant(ir.IntType(32), vt.dtype.bitwidth // 8),
                                 mask, ir.Constant(ty, None)])
    return vt(arr, idx, n), codegen


@intrinsic
def _vstore_n(typingctx, arr, idx, vec, n):
    """arr[idx : idx + n] = the first n lanes of vec (n <= lanes); writes nothing else."""
    if not (isinstance(vec, Vec) and vec.dtype == arr.dtype):
        raise TypingError(f"_vstore_n of {vec} into an array of {arr.dtype}")

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        ptr = builder.gep(data, [args[1]])
        vptr = builder.bitcast(ptr, args[2].type.as_pointer())
        mask = _lane_mask(builder, sig.args[2].lanes, args[3])
        ty = args[2].type
        fn = builder.module.declare_intrinsic(
            f"llvm.masked.store.{_vname(ty)}.p0", (),
            ir.FunctionType(ir.VoidType(), [ty, vptr.type, ir.IntType(32), mask.type]))
        builder.call(fn, [args[2], vptr, ir.Constant(ir.IntType(32), vec.dtype.bitwidth // 8),
                          mask])
        return context.get_dummy_value()
    return types.none(arr, idx, vec, n), codegen


@intrinsic
def _lanes_of_pair(typingctx, a, b, first):
    """Lanes first, first + 2, ... of the concatenation a || b (first a literal 0 or 1): the
    even or odd columns of two vectors, to split a row by column parity."""
    if not (isinstance(a, Vec) and a == b and isinstance(first, types.IntegerLiteral)):
        raise TypingError(f"_lanes_of_pair needs two vectors of one type and a literal, got "
                          f"{a}, {b}, {first}")
    start = first.literal_value

    def codegen(context, builder, sig, args):
        n = args[0].type.count
        mask = ir.Constant(ir.VectorType(ir.IntType(32), n), [start + 2 * i for i in range(n)])
        return builder.shuffle_vector(args[0], args[1], mask)
    return a(a, b, first), codegen


@njit(cache=True)
def forward_geometry(oh, ow, kh, kw, sh, sw, dh, dw, nlanes):
    """(hp, wq, owp) of the forward kernel's padded plane. It holds the input plane with its
    zero frame split by column phase: sw planes of hp rows of wq, phase p holding padded
    columns p, p + sw, ... So the tap (a, b) of output columns j.. is one vector load at
    phase (b dw) % sw, column j + (b dw) // sw, whatever the stride. Output rows are
    computed 4 at a time (oh rounded up; the rows past oh read zeros) and output columns in
    whole vectors (owp, ow rounded up)."""
    owp = -(-ow // nlanes) * nlanes
    hp = (-(-oh // 4) * 4 - 1) * sh + (kh - 1) * dh + 1
    return hp, owp + ((kw - 1) * dw) // sw, owp


def forward_work_size(w_shape, y_shape, strides, dilations, nlanes):
    """Floats of work one thread needs: its padded plane and four rows of output."""
    hp, wq, owp = forward_geometry(y_shape[2], y_shape[3], w_shape[2], w_shape[3], *strides,
                                   *dilations, nlanes)
    return strides[1] * hp * wq + 4 * owp


def depthwise_forward(x, w, bias, has_bias, sh, sw, ph, pw, dh, dw, y, work, su=1, sv=1):
    """y (N, M, OH, OW) written whole from x (N, C, H, W) and w (M, 1, kh, kw); `work`
    (parts, forward_work_size) holds each thread's padded plane. The N C input planes are
    cut into `parts` runs, one per part of threads.run_parallel (so batch 1 uses every
    thread); each plane is copied once into the zero-framed buffer and its mult output
    planes computed from it. With su, sv > 1 each plane is first spread out, its values su
    rows and sv columns apart with zeros between (a stride-s data gradient runs so, with
    stride 1)."""
    depthwise_forward_folded(x, w, bias, has_bias, sh, sw, ph, pw, dh, dw, y, work,
                             bias[:0], bias[:0], False, y.dtype.type(0), su, sv)


def depthwise_forward_folded(x, w, bias, has_bias, sh, sw, ph, pw, dh, dw, y, work, fa, fb,
                             relu, slope, su=1, sv=1):
    """depthwise_forward, then y = fa[m] y + fb[m] and the ReLU (when `relu`) on each output
    plane while it is in cache (fa empty: nothing): a folded BatchNorm + Scale + ReLU
    (BatchNorm.fold)."""
    parts = work.shape[0]
    planes = x.shape[0] * x.shape[1]
    run_parallel(lambda t: depthwise_forward_planes(
        x, w, bias, has_bias, sh, sw, ph, pw, dh, dw, y, work[t], su, sv, fa, fb, relu, slope,
        t * planes // parts, (t + 1) * planes // parts), parts)


@njit(cache=True, nogil=True)
def depthwise_forward_planes(x, w, bias, has_bias, sh, sw, ph, pw, dh, dw, y, buf, su, sv,
                             fa, fb, relu, slope, p0, p1):
    """The forward's input planes [p0, p1) (n C + c) and their output planes, with the
    buffer `buf` (one part of depthwise_forward_folded)."""
    N, C, H, W = x.shape
    M, _, kh, kw = w.shape
    _forward_run(x.reshape(-1), w.reshape(-1), bias, has_bias, sh, sw, ph, pw, dh, dw, N, C,
                 H, W, M, kh, kw, y.shape[2], y.shape[3], p0, p1, buf, y.reshape(-1), su, sv,
                 fa, fb, relu, slope)


@njit(cache=True)
def _forward_run(xf, wf, bias, has_bias, sh, sw, ph, pw, dh, dw, N, C, H, W, M, kh, kw, oh,
                 ow, p0, p1, buf, yf, su, sv, fa, fb, relu, slope):
    """Input planes [p0, p1) (n C + c) and their output planes into yf, with the buffer
    `buf`; each output plane then folded (fa, fb, relu, slope) unless fa is empty."""
    mult = M // C
    hp, wq, owp = forward_geometry(oh, ow, kh, kw, sh, sw, dh, dw, lanes(buf))
    for k in range(buf.size):                   # the frame; planes overwrite the inside
        buf[k] = 0.0
    S = oh * ow
    for p in range(p0, p1):
        if su == 1 and sv == 1:
            _pad_plane(xf, p * H * W, H, W, ph, pw, sw, hp, wq, buf)
        else:
            _spread_plane(xf, p * H * W, H, W, ph, pw, su, sv, hp, wq, buf)
        n = p // C
        for m in range((p % C) * mult, (p % C + 1) * mult):
            _forward_plane(buf, wf, bias, has_bias, m, kh, kw, sh, sw, dh, dw, hp, wq, owp, yf,
                           (n * M + m) * S, oh, ow)
            if fa.size:
                affine_relu_block(yf[n * M * S:(n + 1) * M * S], S, m, m + 1, 0, S, fa, fb,
                                  relu, slope)


@njit(cache=True)
def _pad_plane(xf, xo, H, W, ph, pw, sw, hp, wq, buf):
    """The plane at xf[xo:] into buf's phase planes (forward_geometry), rows from ph,
    padded column q + pw to phase (q + pw) % sw, column (q + pw) // sw; what lies past wq
    is never read. Vectors for stride 1 and 2 (split by parity; a row's last vector
    masked), scalars otherwise."""
    L = lanes(buf)
    for r in range(min(H, hp - ph)):
        s = xo + r * W
        if sw == 1:
            o = (r + ph) * wq + pw
            n = min(W, wq - pw)
            for q in range(0, n, L):
                _vstore_n(buf, o + q, _vload_n(xf, s + q, min(L, n - q)), min(L, n - q))
        elif sw == 2:
            ue = pw // 2                                 # input columns 0, 2, ... go to
            ev = ((pw % 2) * hp + r + ph) * wq + ue      # phase pw % 2 from column ue
            uo = (pw + 1) // 2                           # 1, 3, ...: the other phase, from uo
            od = (((pw + 1) % 2) * hp + r + ph) * wq + uo
            ne = min((W + 1) // 2, wq - ue)              # how many of each are read
            no = min(W // 2, wq - uo)
            for q in range(0, 2 * max(ne, no), 2 * L):
                k = W - q
                lo = _vload_n(xf, s + q, min(L, k))
                hi = _vload_n(xf, s + q + L, max(0, min(L, k - L)))
                h = q // 2
                _vstore_n(buf, ev + h, _lanes_of_pair(lo, hi, 0), max(0, min(L, ne - h)))
                _vstore_n(buf, od + h, _lanes_of_pair(lo, hi, 1), max(0, min(L, no - h)))
        else:
            phase = pw % sw                          # column by column, without division
            u = pw // sw
            for q in range(W):
                if u >= wq:
                    break
                buf[(phase * hp + r + ph) * wq + u] = xf[s + q]
                phase += 1
                if phase == sw:
                    phase = 0
                    u += 1


@njit(cache=True)
def _spread_plane(xf, xo, H, W, ph, pw, su, sv, hp, wq, buf):
    """The plane at xf[xo:] into buf (stride 1: one phase) spread out: value (i, j) at row
    ph + i su, column pw + j sv; the zeros between are the buffer's, never written."""
    for i in range(H):
        r = ph + i * su
        if r >= hp:
            break
        o = r * wq + pw
        s = xo + i * W
        for j in range(min(W, (wq - pw + sv - 1) // sv)):
            buf[o + j * sv] = xf[s + j]


@njit(cache=True)
def _forward_plane(buf, wf, bias, has_bias, m, kh, kw, sh, sw, dh, dw, hp, wq, owp, yf, yo,
                   oh, ow):
    """Output plane m (at yf[yo:], oh x ow) from the phase planes in buf: four output rows
    at a time, one vector of columns each (four independent chains of FMAs, whatever the
    row width), into the row buffer at buf[rb:], then to y in whole vectors (a vector that
    runs past its row is overwritten by the next row; only near the plane's end does it
    go by scalars). A function of its own with flat indices: slices, or array arguments
    of an inlined helper, cost atomic reference-count updates each time (they made a row
    4x slower)."""
    L = lanes(buf)
    rb = sw * hp * wq
    b0 = vbroadcast(bias, m) if has_bias else vzero(buf)
    rs = sh * wq                              # from one output row's inputs to the next's
    for i in range(0, oh, 4):
        for j in range(0, owp, L):
            a0 = b0
            a1 = b0
            a2 = b0
            a3 = b0
            phase = 0                           # of tap column b: (b dw) % sw
            shift = j                           # and j + (b dw) // sw, kept without division
            for b in range(kw):
                o = (phase * hp + i * sh) * wq + shift
                for a in range(kh):
                    wv = vbroadcast(wf, (m * kh + a) * kw + b)
                    oa = o + a * dh * wq
                    a0 = vfma(wv, vload(buf, oa), a0)
                    a1 = vfma(wv, vload(buf, oa + rs), a1)
                    a2 = vfma(wv, vload(buf, oa + 2 * rs), a2)
                    a3 = vfma(wv, vload(buf, oa + 3 * rs), a3)
                phase += dw
                while phase >= sw:
                    phase -= sw
                    shift += 1
            vstore(buf, rb + j, a0)
            vstore(buf, rb + owp + j, a1)
            vstore(buf, rb + 2 * owp + j, a2)
            vstore(buf, rb + 3 * owp + j, a3)
        for k in range(min(4, oh - i)):
            yr = yo + (i + k) * ow
            src = rb + k * owp
            for q in range(0, ow, L):
                _vstore_n(yf, yr + q, vload(buf, src + q), min(L, ow - q))


@njit(cache=True, parallel=True)
def depthwise_backward_data(dy, w, sh, sw, ph, pw, dh, dw, dx):
    """dx (N, C, H, W) written whole: each (n, c) plane gathers from its mult outputs."""
    N, C, H, W = dx.shape
    M, _, kh, kw = w.shape
    oh, ow = dy.shape[2], dy.shape[3]
    mult = M // C
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for r in range(H):
            for q in range(W):
                dx[n, c, r, q] = 0.0
        for m in range(c * mult, (c + 1) * mult):
            for i in range(oh):
                gr = dy[n, m, i]
                for a in range(kh):
                    r = i * sh - ph + a * dh
                    if r < 0 or r >= H:
                        continue
                    dr = dx[n, c, r]
                    for bb in range(kw):
                        j0, j1, off = _cols(bb, W, ow, sw, pw, dw)
                        wv = w[m, 0, a, bb]
                        gv = gr[j0:j1]
                        if sw == 1:               # C-contiguous slices: vector lanes
                            dv = dr[j0 + off:j1 + off]
                            for j in range(j1 - j0):
                                dv[j] += wv * gv[j]
                        elif j1 > j0:             # strided: still better than indexing
                            ds = dr[j0 * sw + off:(j1 - 1) * sw + off + 1:sw]
                            for j in range(j1 - j0):
                                ds[j] += wv * gv[j]


def weight_work_size(w_shape, y_shape, channels, strides, dilations, nlanes):
    """Floats of work one thread of the weight gradient needs: the forward's padded plane
    and row buffer, then one vector accumulator per output channel of a run and tap (and
    bias)."""
    m, _, kh, kw = w_shape
    return (forward_work_size(w_shape, y_shape, strides, dilations, nlanes)
            + (m // channels) * (kh * kw + 1) * nlanes)


@njit(cache=True, parallel=True)
def depthwise_backward_weight_planes(x, dy, sh, sw, ph, pw, dh, dw, has_bias, dwt, db, work):
    """dwt (M, 1, kh, kw) += the filter gradient, db (M,) += the bias gradient (when
    has_bias), the way the forward kernel goes: each input plane padded once into `work`
    (weight_work_size), then per output channel and tap one sweep of vector multiply-adds
    of dy's rows with the plane's shifted rows (masked tails) into a vector accumulator,
    whose lanes are added up (in float64) once per channel. The channels are cut into one
    run per part, so each part owns the filters it writes."""
    N, C, H, W = x.shape
    xf = x.reshape(-1)
    gf = dy.reshape(-1)
    parts = work.shape[0]
    if parts == 1:
        _weight_run(xf, gf, sh, sw, ph, pw, dh, dw, has_bias, dwt, db, N, C, H, W,
                    dy.shape[2], dy.shape[3], 0, C, work[0])
        return
    for t in prange(parts):
        _weight_run(xf, gf, sh, sw, ph, pw, dh, dw, has_bias, dwt, db, N, C, H, W,
                    dy.shape[2], dy.shape[3], t * C // parts, (t + 1) * C // parts, work[t])


@njit(cache=True)
def _weight_run(xf, gf, sh, sw, ph, pw, dh, dw, has_bias, dwt, db, N, C, H, W, oh, ow, c0,
                c1, buf):
    """Channels [c0, c1): their filters' (and biases') gradients, over the whole batch."""
    M, _, kh, kw = dwt.shape
    mult = M // C
    L = lanes(buf)
    hp, wq, owp = forward_geometry(oh, ow, kh, kw, sh, sw, dh, dw, L)
    acc = sw * hp * wq + 4 * owp                # the accumulators, after the row buffer
    nacc = mult * (kh * kw + 1) * L
    for k in range(acc):
        buf[k] = 0.0
    for c in range(c0, c1):
        for k in range(acc, acc + nacc):
            buf[k] = 0.0
        for n in range(N):
            _pad_plane(xf, (n * C + c) * H * W, H, W, ph, pw, sw, hp, wq, buf)
            for k in range(mult):
                _plane_taps(buf, gf, (n * M + c * mult + k) * oh * ow, oh, ow, kh, kw, sh, sw,
                            dh, dw, hp, wq, has_bias, acc + k * (kh * kw + 1) * L)
        for k in range(mult):
            m = c * mult + k
            for q in range(kh * kw + 1):
                o = acc + (k * (kh * kw + 1) + q) * L
                s = 0.0
                for lane in range(L):
                    s += buf[o + lane]
                if q < kh * kw:
                    dwt[m, 0, q // kw, q % kw] += s
                elif has_bias:
                    db[m] += s


@njit(cache=True)
def _plane_taps(buf, gf, go, oh, ow, kh, kw, sh, sw, dh, dw, hp, wq, has_bias, out):
    """For one output plane (at gf[go:]) and the padded input plane in buf, the vectors
    at buf[out + (a kw + b) lanes] += the lanes of sum_{i, j} dy[i, j] plane[i sh + a dh,
    j sw + b dw], and at buf[out + kh kw lanes] += those of sum dy."""
    L = lanes(buf)
    phase = 0
    shift = 0
    for b in range(kw):
        for a in range(kh):
            a0 = vload(buf, out + (a * kw + b) * L)
            a1 = vzero(buf)
            for i in range(oh):
                g = go + i * ow
                o = (phase * hp + i * sh + a * dh) * wq + shift
                for j in range(0, ow, 2 * L):
                    n0 = min(L, ow - j)
                    n1 = max(0, min(L, ow - j - L))
                    a0 = vfma(_vload_n(gf, g + j, n0), _vload_n(buf, o + j, n0), a0)
                    a1 = vfma(_vload_n(gf, g + j + L, n1), _vload_n(buf, o + j + L, n1), a1)
            vstore(buf, out + (a * kw + b) * L, vadd(a0, a1))
        phase += dw
        while phase >= sw:
            phase -= sw
            shift += 1
    if has_bias:
        a0 = vload(buf, out + kh * kw * L)
        for i in range(oh):
            for j in range(0, ow, L):
                a0 = vadd(a0, _vload_n(gf, go + i * ow + j, min(L, ow - j)))
        vstore(buf, out + kh * kw * L, a0)


@njit(cache=True)
def depthwise_forward_reference(x, w, bias, has_bias, sh, sw, ph, pw, dh, dw, y):
    """The plain loop version of depthwise_forward, for the tests."""
    N, C, H, W = x.shape
    M, _, kh, kw = w.shape
    mult = M // C
    for n in range(N):
        for m in range(M):
            for i in range(y.shape[2]):
                for j in range(y.shape[3]):
                    s = bias[m] if has_bias else 0.0
                    for a in range(kh):
                        for b in range(kw):
                            r = i * sh - ph + a * dh
                            q = j * sw - pw + b * dw
                            if 0 <= r < H and 0 <= q < W:
                                s += w[m, 0, a, b] * x[n, m // mult, r, q]
                    y[n, m, i, j] = s
