"""ArgMax kernel, the CUDA twin of kernels/cpu/arg_max.py: the top_k largest values of each
row of an (outer, dim, inner) device array, ranked as (value, index) pairs in descending
order (among equal values the larger index first, Caffe's order). One thread per
(outer, inner) row runs the CPU's k scans (k is small; nothing allocated)."""
from numba import cuda

from .launch import grid


@cuda.jit
def _arg_max(x, top_k, out_max_val, with_axis, out):
    outer, dim, inner = x.shape
    p = cuda.grid(1)
    while p < outer * inner:
        o = p // inner
        i = p % inner
        prev_v = x[o, 0, i]
        prev_j = -1
        for k in range(top_k):
            best_j = -1
            best_v = x[o, 0, i]
            for j in range(dim):
                v = x[o, j, i]
                if k > 0 and not (v < prev_v or (v == prev_v and j < prev_j)):
                    continue                     # ranked at or above the previous pick
                if best_j < 0 or v > best_v or (v == best_v and j > best_j):
                    best_v = v
                    best_j = j
            prev_v = best_v
            prev_j = best_j
            if with_axis:
                out[o, k, i] = best_v if out_max_val else best_j
            else:
                out[o, 0, k] = best_j
                if out_max_val:
                    out[o, 1, k] = best_v
        p += cuda.gridsize(1)


def arg_max(x, top_k, out_max_val, with_axis, out):
    """x: (outer, dim, inner). With an axis, out is (outer, top_k, inner) holding values if
    out_max_val else indices. Without one (inner == 1), out is (outer, 1 or 2, top_k)."""
    _arg_max[grid(x.shape[0] * x.shape[2])](x, int(top_k), bool(out_max_val), bool(with_axis),
                                            out)
