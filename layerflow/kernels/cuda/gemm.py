"""A tiled shared-memory GEMM of our own (no cuBLAS needed):

    C[b, i, j] = alpha * sum_k A(b, i, k) * B(b, k, j) + beta * C[b, i, j]

over flat C-contiguous device arrays addressed through strides, so that one kernel serves
plain and transposed operands, a batch (blockIdx.z; stride 0 broadcasts one operand, as a
convolution's weights over its images) and a sum over a batch folded into k (the weight
gradient of a convolution sums dy_n col_n^T over the images n: k = n * kp + p):

    A(b, i, k) = a[b*a_sb + i*a_si + (k // kp)*a_sn + (k % kp)*a_sk]
    B(b, k, j) = b[b*b_sb + (k // kp)*b_sn + (k % kp)*b_sk + j*b_sj]
    C(b, i, j) = c[b*c_sb + i*c_si + j*c_sj]

Each block computes a BM x BN tile of C: per step of BK along k its threads copy the A
and B tiles into shared memory (zeros past the edges, so that no size needs to be a
multiple of a tile), then each thread accumulates RM x RN outputs in registers, rows
ty + m*TY and columns tx + n*TX (a warp reads one shared row: broadcast for A, consecutive
banks for B). Two shapes of tile: "large" (64 x 64, 4 x 4 per thread) for products that
fill it, "small" (16 x 16, one output per thread) for thin ones such as a batch of 2
against 10 classes. beta = 0 never reads C (stale NaN stays out).
In the simulator the tiles shrink (16 x 16 from 2 x 2 threads, and 4 x 4), since every
thread is a Python thread; the code is the same."""
import functools

import numba
import numpy as np
from numba import cuda

from .launch import SIMULATOR

# variant -> (TX, TY, RM, RN, BK): threads per block TX*TY, tile BM = TY*RM by BN = TX*RN
VARIANTS = {
    "large": (2, 2, 8, 8, 32) if SIMULATOR else (16, 16, 4, 4, 16),
    "small": (4, 4, 1, 1, 4) if SIMULATOR else (16, 16, 1, 1, 16),
}


@functools.cache
def _kernel(dtype, TX, TY, RM, RN, BK):
    nt = numba.from_dtype(np.dtype(dtype))
    BM, BN = TY * RM, TX * RN
    NTH = TX * TY

    @cuda.jit
    def kernel(M, N, K, kp, a, a_sb, a_si, a_sn, a_sk, b, b_sb, b_sn, b_sk, b_sj,
               c, c_sb, c_si, c_sj, alpha, beta):
        As = cuda.shared.array((BK, BM), nt)
        Bs = cuda.shared.array((BK, BN), nt)
        acc = cuda.local.array((RM, RN), nt)
        zero = c.dtype.type(0)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        tid = ty * TX + tx
        i0 = cuda.blockIdx.y * BM
        j0 = cuda.blockIdx.x * BN
        z = cuda.blockIdx.z
        abase = z * a_sb
        bbase = z * b_sb
        for m in range(RM):
            for n in range(RN):
                acc[m, n] = zero
        for k0 in range(0, K, BK):
            # A tile: walk the contiguous axis of A fastest (coalesced reads)
            e = tid
            while e < BM * BK:
                if a_sk == 1:
                    r = e // BK
                    kk = e % BK
                else:
                    kk = e // BM
                    r = e % BM
                i = i0 + r
                k = k0 + kk
                if i < M and k < K:
                    As[kk, r] = a[abase + i * a_si + (k // kp) * a_sn + (k % kp) * a_sk]
                else:
                    As[kk, r] = zero
                e += NTH
            e = tid
            while e < BK * BN:
                if b_sj == 1:
                    kk = e // BN
                    s = e % BN
                else:
                    s = e // BK
                    kk = e % BK
                j = j0 + s
                k = k0 + kk
                if j < N and k < K:
                    Bs[kk, s] = b[bbase + (k // kp) * b_sn + (k % kp) * b_sk + j * b_sj]
                else:
                    Bs[kk, s] = zero
                e += NTH
            cuda.syncthreads()
            for kk in range(BK):
                for m in range(RM):
                    av = As[kk, ty + m * TY]
                    for n in range(RN):
                        acc[m, n] += av * Bs[kk, tx + n * TX]
            cuda.syncthreads()
        for m in range(RM):
            i = i0 + ty + m * TY
            if i < M:
                for n in range(RN):
                    j = j0 + tx + n * TX
                    if j < N:
                        o = z * c_sb + i * c_si + j * c_sj
                        if beta == 0:
                            c[o] = alpha * acc[m, n]
                        else:
                            c[o] = alpha * acc[m, n] + beta * c[o]

    return kernel


def pick_variant(M, N):
    """"large" when the product fills at least half a large tile each way, else "small".
    The simulator takes "large" always: its cost is per thread and per barrier, and 4
    threads of 8 x 8 outputs with 32-deep k steps ran a thin convolution product 10x faster
    there than 16 threads of one output (the tests call both tiles by name)."""
    if SIMULATOR:
        return "large"
    TX, TY, RM, RN, _ = VARIANTS["large"]
    return "large" if M * 2 >= TY * RM and N * 2 >= TX * RN else "small"


def gemm_strided(M, N, K, a, a_strides, b, b_strides, c, c_strides, batch=1, kp=None,
                 alpha=1.0, beta=0.0, variant=None):
    """The general entry (see the module docstring). a, b, c: flat device arrays (views
    may start at an offset); a_strides (sb, si, sn, sk), b_strides (sb, sn, sk, sj),
    c_strides (sb, si, sj); kp: the inner length of a k split (None: no split)."""
    TX, TY, RM, RN, BK = VARIANTS[variant or pick_variant(M, N)]
    kernel = _kernel(c.dtype.type, TX, TY, RM, RN, BK)
    blocks = ((N + TX * RN - 1) // (TX * RN), (M + TY * RM - 1) // (TY * RM), batch)
    t = c.dtype.type
    kernel[blocks, (TX, TY)](M, N, K, kp or max(K, 1), a, *a_strides, b, *b_strides,
                             c, *c_strides, t(alpha), t(beta))


def gemm(a, b, c, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, variant=None):
    """c = alpha * op(a) @ op(b) + beta * c for 2-D C-contiguous device arrays, op(x) = x.T
    when trans_x. op(a): (M, K), op(b): (K, N), c: (M, N)."""
    M, K = (a.shape[1], a.shape[0]) if trans_a else a.shape
    K2, N = (b.shape[1], b.shape[0]) if trans_b else b.shape
    if K != K2 or c.shape != (M, N):
        raise ValueError(f"gemm: op(a) {M}x{K}, op(b) {K2}x{N} and c {c.shape[0]}x"
                         f"{c.shape[1]} do not fit")
    a_s = (0, 1, 0, a.shape[1]) if trans_a else (0, a.shape[1], 0, 1)
    b_s = (0, 0, 1, b.shape[1]) if trans_b else (0, 0, b.shape[1], 1)
    gemm_strided(M, N, K, a.reshape(a.size), a_s, b.reshape(b.size), b_s,
                 c.reshape(c.size), (0, N, 1), alpha=alpha, beta=beta, variant=variant)
