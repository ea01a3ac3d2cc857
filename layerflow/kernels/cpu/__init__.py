"""@numba.njit(cache=True) CPU kernels, one module per layer family.

Kernels are stateless functions over C-contiguous arrays that write into outputs the caller
owns (`relu_forward(x, slope, out)`), so that layers allocate nothing per iteration."""
