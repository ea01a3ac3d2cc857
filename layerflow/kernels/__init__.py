"""Compute kernels: `cpu/` holds @numba.njit kernels, `cuda/` their numba.cuda twins."""
