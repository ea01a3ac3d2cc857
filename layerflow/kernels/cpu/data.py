"""Batch assembly for data layers: gather records by index into a batch buffer, check labels.

All kernels release the GIL (`nogil=True`), so that a prefetch thread runs them in parallel
with the net's own work."""
from numba import njit


@njit(cache=True, nogil=True)
def gather_rows(src, index, out):
    """out[k, :] = src[index[k], :] for each k, converting to out's dtype. src (N, D)."""
    batch, size = out.shape
    for k in range(batch):
        j = index[k]
        for p in range(size):
            out[k, p] = src[j, p]


@njit(cache=True, nogil=True)
def first_bad_label(labels, num_classes):
    """Index of the first label that is not an integer in [0, num_classes), or -1."""
    for k in range(labels.size):
        v = labels[k]
        if not (v >= 0 and v < num_classes) or v != int(v):
            return k
    return -1
