"""PReLU kernels over an (N, C, inner) view: y = max(x, 0) + a_c * min(x, 0);
dx = dy * (x > 0 ? 1 : a_c); da_c += sum over n, inner of dy * x * (x <= 0).

`slope` has C values, or 1 when channel-shared. The in-place forward saves x into `saved`
(its own array) while it overwrites x, since backward needs the input's sign and value; the
`_inplace` twins take one array where top and bottom (data or diff) are the same, since LLVM
does not vectorize a loop whose arguments may alias. The loops select rather than branch,
and the slope sums may be reordered (fastmath 'reassoc' and 'contract' only, as BatchNorm's
statistics), so that they vectorize."""
from numba import njit

REDUCE = {"reassoc", "contract"}


@njit(cache=True)
def prelu_forward(x, slope, out):
    n, c, inner = x.shape
    shared = slope.size == 1
    for i in range(n):
        for j in range(c):
            a = slope[0] if shared else slope[j]
            for k in range(inner):
                v = x[i, j, k]
                out[i, j, k] = v if v > 0 else v * a


@njit(cache=True)
def prelu_forward_inplace(x, slope, saved):
    n, c, inner = x.shape
    shared = slope.size == 1
    for i in range(n):
        for j in range(c):
            a = slope[0] if shared else slope[j]
            for k in range(inner):
                v = x[i, j, k]
                saved[i, j, k] = v
                x[i, j, k] = v if v > 0 else v * a


@njit(cache=True, fastmath=REDUCE)
def prelu_backward(x, dy, slope, dslope, dx, want_dx):
    """Adds the slope gradient into `dslope`; writes `dx` when `want_dx`."""
    n, c, inner = x.shape
    shared = slope.size == 1
    zero = x.dtype.type(0)
    for i in range(n):
        for j in range(c):
            s = 0 if shared else j
            a = slope[s]
            acc = zero
            for k in range(inner):
                acc += dy[i, j, k] * min(x[i, j, k], zero)
            dslope[s] += acc
            if want_dx:
                for k in range(inner):
                    g = dy[i, j, k]
                    dx[i, j, k] = g if x[i, j, k] > 0 else g * a


@njit(cache=True)
def prelu_backward_inplace(x, d, slope, dslope, want_dx):
    """`d` holds dy on entry and dx on return (when `want_dx`); `x` is the saved input.
    (prelu_backward reads each row of dy before writing it, so dx may be dy.)"""
    prelu_backward(x, d, slope, dslope, d, want_dx)
