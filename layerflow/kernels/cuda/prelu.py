"""PReLU kernels over an (N, C, inner) device view, the CUDA twins of kernels/cpu/prelu.py:
y = max(x, 0) + a_c * min(x, 0); dx = dy * (x > 0 ? 1 : a_c);
da_c += sum over n, inner of dy * min(x, 0).

`slope` has C values, or 1 when channel-shared. The slope gradient runs before dx is written
(so dy and dx may be one array, the `_inplace` names) and without atomics: one thread per
channel adds a float64 row sum per n (the CPU loop's order), or, channel-shared, one block
sums everything in a fixed order."""
from numba import cuda, float64

from .launch import THREADS, grid, tree_sum


@cuda.jit
def _forward(x, slope, saved, out):
    """out = prelu(x); saved = x when `saved` is not empty (the in-place forward)."""
    n, c, inner = x.shape
    shared = slope.size == 1
    save = saved.size > 0
    e = cuda.grid(1)
    while e < x.size:
        i = e // (c * inner)
        j = (e // inner) % c
        k = e % inner
        v = x[i, j, k]
        if save:
            saved[i, j, k] = v
        a = slope[0] if shared else slope[j]
        out[i, j, k] = v if v > 0 else v * a
        e += cuda.gridsize(1)


@cuda.jit
def _slope_grad_channels(x, dy, dslope):
    n, c, inner = x.shape
    j = cuda.grid(1)
    while j < c:
        for i in range(n):
            acc = float64(0)
            for k in range(inner):
                acc += dy[i, j, k] * min(x[i, j, k], x.dtype.type(0))
            dslope[j] += acc
        j += cuda.gridsize(1)


@cuda.jit
def _slope_grad_shared(x, dy, dslope):
    buf = cuda.shared.array(THREADS, float64)
    n, c, inner = x.shape
    t = cuda.threadIdx.x
    s = float64(0)
    e = t
    while e < x.size:
        i = e // (c * inner)
        j = (e // inner) % c
        k = e % inner
        s += dy[i, j, k] * min(x[i, j, k], x.dtype.type(0))
        e += THREADS
    buf[t] = s
    tree_sum(buf, t)
    if t == 0:
        dslope[0] += buf[0]


@cuda.jit
def _data_grad(x, dy, slope, dx):
    n, c, inner = x.shape
    shared = slope.size == 1
    e = cuda.grid(1)
    while e < x.size:
        i = e // (c * inner)
        j = (e // inner) % c
        k = e % inner
        g = dy[i, j, k]
        dx[i, j, k] = g if x[i, j, k] > 0 else g * (slope[0] if shared else slope[j])
        e += cuda.gridsize(1)


def prelu_forward(x, slope, out):
    _forward[grid(x.size)](x, slope, out[:0, :0, :0], out)


def prelu_forward_inplace(x, slope, saved):
    """x = prelu(x), keeping the input in `saved` (backward's x)."""
    _forward[grid(x.size)](x, slope, saved, x)


def prelu_backward(x, dy, slope, dslope, dx, want_dx):
    """Adds the slope gradient into `dslope`; writes `dx` when `want_dx`."""
    if slope.size == 1:
        _slope_grad_shared[1, THREADS](x, dy, dslope)
    else:
        _slope_grad_channels[grid(x.shape[1])](x, dy, dslope)
    if want_dx:
        _data_grad[grid(x.size)](x, dy, slope, dx)


def prelu_backward_inplace(x, d, slope, dslope, want_dx):
    """`d` holds dy on entry and dx on return (when `want_dx`); `x` is the saved input."""
    prelu_backward(x, d, slope, dslope, d, want_dx)
