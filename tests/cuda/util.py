"""Helpers of the CUDA kernel tests: device copies in and out, and the sizes that exercise
partial blocks (the simulator runs about 5,000 threads a second: keep shapes tiny)."""
import numpy as np
from numba import cuda

# one element, a partial block, exactly the simulator's whole grid (4 x 32), and a size that
# wraps its grid-stride loop (on a GPU: partial blocks of 256)
SIZES = [1, 37, 128, 300]
DTYPES = [np.float32, np.float64]


def dev(a):
    return cuda.to_device(np.ascontiguousarray(a))


def host(d):
    return d.copy_to_host()


def tol(dtype):
    """rtol/atol for a CUDA result against its CPU twin (same math, other rounding order)."""
    return dict(rtol=2e-6, atol=2e-7) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
