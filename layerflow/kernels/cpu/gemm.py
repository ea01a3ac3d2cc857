"""The plain reference of kernels/cuda/gemm.py's contract, with numpy (llm.c's rule: a fast
kernel keeps a few-line version beside it). The CPU layers multiply through
kernels/cpu/threads.matmul; this module serves the CUDA GEMM's tests and devices whose
arrays live in host memory (tests/fake_device.py), under the CUDA module's names:

    C[b, i, j] = alpha * sum_k A(b, i, k) * B(b, k, j) + beta * C[b, i, j]
    A(b, i, k) = a[b*a_sb + i*a_si + (k // kp)*a_sn + (k % kp)*a_sk]   (B, C alike)
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided


def _view(flat, shape, strides):
    """A strided view of a flat array, strides in elements."""
    return as_strided(flat, shape, tuple(s * flat.itemsize for s in strides))


def gemm_strided(M, N, K, a, a_strides, b, b_strides, c, c_strides, batch=1, kp=None,
                 alpha=1.0, beta=0.0, variant=None):
    kp = kp or max(K, 1)
    sb, si, sn, sk = a_strides
    A = _view(a, (batch, M, K // kp, kp), (sb, si, sn, sk)).reshape(batch, M, K)
    sb, sn, sk, sj = b_strides
    B = _view(b, (batch, K // kp, kp, N), (sb, sn, sk, sj)).reshape(batch, K, N)
    C = _view(c, (batch, M, N), c_strides)
    out = alpha * np.matmul(A, B)
    if beta != 0:
        out += beta * C
    C[...] = out


def gemm(a, b, c, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, variant=None):
    """c = alpha * op(a) @ op(b) + beta * c."""
    out = alpha * ((a.T if trans_a else a) @ (b.T if trans_b else b))
    if beta != 0:
        out += beta * c
    c[...] = out
