"""LRN kernels (Caffe's local response normalization).

Across channels, on an (N, C, HW) view, window of `size` channels centred on c:
    scale[n, c, i] = k + alpha / size * sum_{j in window(c)} x[n, j, i]^2
    y = x * scale^-beta
    dx = dy * scale^-beta - (2 alpha beta / size) * x * sum_{j in window(c)} dy_j y_j / scale_j
Within a channel, on a (P, H, W) view (P = N*C), a size x size window with zero padding:
    scale = 1 + alpha / size^2 * sum_{window} x^2 (the window sums are separable: rows, then
    columns), and the same gradient with size^2 in place of size.
`pw` keeps scale^-beta from the forward pass so that backward needs no pow. A general pow
costs ~30 ns an element; the usual betas (0.75, 0.5, 1) use square roots instead (5x faster).
Every inner loop runs along contiguous memory with its branches hoisted, so LLVM vectorizes
it; `error_model="numpy"` drops Python's zero-division check, whose branch alone kept the
sqrt/divide loops scalar (5x). The scalars (k, alpha, beta, 1) come in the array's dtype, so
float32 nets compute in float32 (twice the vector width).
"""
import math

from numba import njit


@njit(cache=True, error_model="numpy")
def _finish(scale, x, k, a, beta, one, pw, y):
    """Over one contiguous row holding window sums: scale = k + a * sum; pw = scale^-beta;
    y = x * pw. (One array for the sum and the scale: aliased arguments would keep LLVM
    from vectorizing.)"""
    n = scale.size
    if beta == 0.75:
        for i in range(n):
            s = k + a * scale[i]
            scale[i] = s
            p = one / math.sqrt(s * math.sqrt(s))
            pw[i] = p
            y[i] = x[i] * p
    elif beta == 0.5:
        for i in range(n):
            s = k + a * scale[i]
            scale[i] = s
            p = one / math.sqrt(s)
            pw[i] = p
            y[i] = x[i] * p
    elif beta == 1.0:
        for i in range(n):
            s = k + a * scale[i]
            scale[i] = s
            p = one / s
            pw[i] = p
            y[i] = x[i] * p
    else:
        for i in range(n):
            s = k + a * scale[i]
            scale[i] = s
            p = s ** -beta
            pw[i] = p
            y[i] = x[i] * p


@njit(cache=True, error_model="numpy")
def _ratio(dy, x, pw, scale, out):
    """out = dy * y / scale = dy * x * pw / scale over one contiguous row."""
    for i in range(out.size):
        out[i] = dy[i] * x[i] * pw[i] / scale[i]


@njit(cache=True, error_model="numpy")
def _grad(dy, x, pw, coef, dx):
    """dx = dy * pw - coef * x * dx over one contiguous row, dx holding the window sums."""
    for i in range(dx.size):
        dx[i] = dy[i] * pw[i] - coef * x[i] * dx[i]


@njit(cache=True, error_model="numpy")
def _add_square(src, dst):
    for i in range(dst.size):
        v = src[i]
        dst[i] += v * v


@njit(cache=True, error_model="numpy")
def _add(src, dst):
    for i in range(dst.size):
        dst[i] += src[i]


@njit(cache=True, error_model="numpy")
def lrn_across_forward(x, size, alpha_n, beta, k, one, scale, pw, y):
    """`scale` is first the window sum of squares, then k + alpha_n * that sum."""
    N, C, HW = x.shape
    pre = (size - 1) // 2
    for n in range(N):
        for c in range(C):
            s = scale[n, c]
            s[:] = 0.0
            for j in range(max(0, c - pre), min(C, c + pre + 1)):
                _add_square(x[n, j], s)
            _finish(s, x[n, c], k, alpha_n, beta, one, pw[n, c], y[n, c])


@njit(cache=True, error_model="numpy")
def lrn_across_backward(x, dy, scale, pw, size, coef, ratio, dx):
    """`coef` = 2 alpha beta / size; `ratio` is scratch of x's shape."""
    N, C, HW = x.shape
    pre = (size - 1) // 2
    for n in range(N):
        for c in range(C):
            _ratio(dy[n, c], x[n, c], pw[n, c], scale[n, c], ratio[n, c])
        for c in range(C):
            d = dx[n, c]
            d[:] = 0.0
            for j in range(max(0, c - pre), min(C, c + pre + 1)):
                _add(ratio[n, j], d)
            _grad(dy[n, c], x[n, c], pw[n, c], coef, d)


@njit(cache=True, error_model="numpy")
def _row_window_sums(a, square, size, out):
    """out[p, h, w] = sum_{|v| <= pre, 0 <= w + v < W} f(a[p, h, w + v]), f = x^2 or x:
    one shifted, vectorizable pass per offset v."""
    P, H, W = a.shape
    pre = (size - 1) // 2
    for p in range(P):
        for h in range(H):
            src = a[p, h]
            dst = out[p, h]
            dst[:] = 0.0
            for v in range(-pre, pre + 1):
                lo = max(0, -v)
                hi = min(W, W - v)
                if square:
                    _add_square(src[lo + v:hi + v], dst[lo:hi])
                else:
                    _add(src[lo + v:hi + v], dst[lo:hi])


@njit(cache=True, error_model="numpy")
def _column_window_sums(rows, size, H, W, out):
    """On flat (H*W) planes: out[h, :] = sum_{|u| <= pre, 0 <= h + u < H} rows[h + u, :],
    one shifted, contiguous pass per offset u."""
    pre = (size - 1) // 2
    out[:] = 0.0
    for u in range(-pre, pre + 1):
        lo = max(0, -u)
        hi = min(H, H - u)
        _add(rows[(lo + u) * W:(hi + u) * W], out[lo * W:hi * W])


@njit(cache=True, error_model="numpy")
def lrn_within_forward(x, size, alpha_n2, beta, one, rows, scale, pw, y):
    """`alpha_n2` = alpha / size^2; `rows` is scratch of x's shape."""
    P, H, W = x.shape
    _row_window_sums(x, True, size, rows)
    for p in range(P):
        s = scale[p].reshape(H * W)
        _column_window_sums(rows[p].reshape(H * W), size, H, W, s)
        _finish(s, x[p].reshape(H * W), one, alpha_n2, beta, one, pw[p].reshape(H * W),
                y[p].reshape(H * W))


@njit(cache=True, error_model="numpy")
def lrn_within_backward(x, dy, scale, pw, size, coef, ratio, rows, dx):
    """`coef` = 2 alpha beta / size^2; `ratio` and `rows` are scratch of x's shape."""
    P, H, W = x.shape
    HW = H * W
    for p in range(P):
        _ratio(dy[p].reshape(HW), x[p].reshape(HW), pw[p].reshape(HW), scale[p].reshape(HW),
               ratio[p].reshape(HW))
    _row_window_sums(ratio, False, size, rows)
    for p in range(P):
        d = dx[p].reshape(HW)
        _column_window_sums(rows[p].reshape(HW), size, H, W, d)
        _grad(dy[p].reshape(HW), x[p].reshape(HW), pw[p].reshape(HW), coef, d)
