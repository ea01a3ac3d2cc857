"""InnerProduct helpers around the tiled GEMM (kernels/cuda/gemm.py), the CUDA twins of
kernels/cpu/inner_product.py: bias add, bias gradient (one thread per output column
walks the rows into db, as the CPU loop does: the same bits) and a flat accumulate."""
from numba import cuda

from .launch import flat, grid


@cuda.jit
def _add_bias(out, bias):
    rows, cols = out.shape
    k = cuda.grid(1)
    while k < rows * cols:
        out[k // cols, k % cols] += bias[k % cols]
        k += cuda.gridsize(1)


@cuda.jit
def _bias_grad(dy, db):
    rows, cols = dy.shape
    j = cuda.grid(1)
    while j < cols:
        s = db[j]
        for n in range(rows):            # the CPU loop's order and precision
            s += dy[n, j]
        db[j] = s
        j += cuda.gridsize(1)


@cuda.jit
def _accumulate(src, dst):
    i = cuda.grid(1)
    while i < src.size:
        dst[i] += src[i]
        i += cuda.gridsize(1)


def add_bias(out, bias):
    """out[n, j] += bias[j] for an (N, num_output) device array."""
    _add_bias[grid(out.size)](out, bias)


def accumulate_bias_grad(dy, db):
    """db[j] += sum_n dy[n, j] (param diffs accumulate, as in Caffe)."""
    _bias_grad[grid(dy.shape[1])](dy, db)


def accumulate(src, dst):
    """dst += src, flat."""
    src, dst = flat(src), flat(dst)
    _accumulate[grid(src.size)](src, dst)
