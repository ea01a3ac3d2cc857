"""numba.cuda kernels, named as their CPU twins in `kernels/cpu` (none yet)."""
