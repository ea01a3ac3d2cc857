"""ArgMax kernel: the top_k largest values of each row of an (outer, dim, inner) array.

Ranks pairs (value, index) in descending order, as Caffe's partial_sort with
std::greater<pair>: among equal values the larger index comes first. Each of the k picks is
one scan for the largest pair below the previous pick, so nothing is allocated (k is small)."""
from numba import njit


@njit(cache=True)
def arg_max(x, top_k, out_max_val, with_axis, out):
    """x: (outer, dim, inner). With an axis, out is (outer, top_k, inner) holding values if
    out_max_val else indices. Without one (inner == 1), out is (outer, 1 or 2, top_k):
    indices, then values when out_max_val."""
    outer, dim, inner = x.shape
    for o in range(outer):
        for i in range(inner):
            prev_v = 0.0
            prev_j = -1
            for k in range(top_k):
                best_j = -1
                best_v = 0.0
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
