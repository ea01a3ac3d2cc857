"""Batch assembly for in-memory datasets: gather rows by index and scale to the blob dtype."""
from numba import njit


@njit(cache=True)
def gather_scale(images, labels, order, start, scale, shift, out, out_labels):
    """out[k] = images[order[(start + k) % n]] * scale - shift, for k in the batch; labels
    likewise."""
    n = order.size
    batch, size = out.shape
    for k in range(batch):
        j = order[(start + k) % n]
        for p in range(size):
            out[k, p] = images[j, p] * scale - shift
        out_labels[k] = labels[j]
