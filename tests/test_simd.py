"""The explicit-vector intrinsics and the register tile of the direct convolution,
against plain numpy."""
import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from layerflow.kernels.cpu import direct_conv as dc
from layerflow.kernels.cpu.simd import (lanes, vadd, vbroadcast, vdiv, vfma, vgather, vload,
                                        vload_index, vload_n, vselect_gt, vshift, vstore,
                                        vstore_n, vzero)


@njit
def _axpy_lanes(a, i, x, j, y, k):
    """y[k:k+L] = x[i] * a[j:j+L] + y[k:k+L] with one vector of each."""
    vstore(y, k, vfma(vbroadcast(x, i), vload(a, j), vload(y, k)))
    return lanes(y)


@njit
def _add_div(a, b, out):
    vstore(out, 0, vdiv(vadd(vload(a, 0), vload(b, 0)), vload(b, 0)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_add_and_divide_match_numpy_bit_for_bit(dtype):
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, 16)).astype(dtype)
    out = np.zeros(16, dtype)
    _add_div(a, b, out)
    n = 64 // np.dtype(dtype).itemsize               # one vector: 16 or 8 lanes
    np.testing.assert_array_equal(out[:n], ((a + b) / b)[:n])
    assert not out[n:].any()


@njit
def _copy_first(src, i, dst, j, n):
    vstore_n(dst, j, vload_n(src, i, n), n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 5])
def test_masked_load_and_store_touch_only_n_elements(dtype, n):
    src = np.arange(1, 41, dtype=dtype)
    dst = np.full(40, -1, dtype)
    _copy_first(src, 30, dst, 3, n)                 # src[30:30+n] only: no read past 40
    want = np.full(40, -1, dtype)
    want[3:3 + n] = src[30:30 + n]
    np.testing.assert_array_equal(dst, want)


@njit
def _zero(y):
    vstore(y, 0, vzero(y))


@pytest.mark.parametrize("dtype,n", [(np.float32, 16), (np.float64, 8)])
def test_vector_ops_match_numpy(dtype, n):
    rng = np.random.default_rng(0)
    a, x, y = (rng.normal(size=40).astype(dtype) for _ in range(3))
    want = y.copy()
    want[5:5 + n] = x[7] * a[3:3 + n] + y[5:5 + n]
    assert _axpy_lanes(a, 7, x, 3, y, 5) == n
    np.testing.assert_allclose(y, want, rtol=1e-6 if dtype == np.float32 else 1e-15)
    _zero(y)
    assert not y[:n].any() and y[n] == want[n]


def test_vectors_refuse_what_they_cannot_address():
    with pytest.raises(TypingError, match="1-D contiguous"):
        _zero(np.zeros((4, 16)))
    with pytest.raises(TypingError, match="1-D contiguous"):
        _zero(np.zeros(64, np.int32))


@njit
def _gather_max(x, base, offsets, candidate, out, index):
    """out = x[base + offsets] where candidate > it, with index = offsets + 100 there."""
    offs = vload_index(offsets, 0, x)
    v = vgather(x, base, offs)
    c = vload(candidate, 0)
    vstore(index, 0, vselect_gt(c, v, vshift(offs, 100), offs))
    vstore(out, 0, vselect_gt(c, v, c, v))


@pytest.mark.parametrize("dtype,n", [(np.float32, 16), (np.float64, 8)])
def test_gather_compare_select(dtype, n):
    rng = np.random.default_rng(2)
    x = rng.normal(size=50).astype(dtype)
    offsets = rng.integers(0, 40, size=n).astype(np.int32)
    candidate = rng.normal(size=n).astype(dtype)
    candidate[0] = np.nan                  # NaN is never greater: the gathered value stays
    out, index = np.zeros(n, dtype), np.zeros(n, np.int32)
    _gather_max(x, 7, offsets, candidate, out, index)
    v = x[7 + offsets]
    take = candidate > v
    np.testing.assert_array_equal(out, np.where(take, candidate, v))
    np.testing.assert_array_equal(index, np.where(take, offsets + 100, offsets))
    assert out[0] == v[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_register_tile_is_a_gathered_product(dtype):
    rng = np.random.default_rng(1)
    width = dc.lanes_of(dtype)
    x = rng.normal(size=500).astype(dtype)
    rows = rng.integers(0, 200, size=dc.ROWS + 3)
    offs = rng.integers(0, 300, size=37)
    b = rng.normal(size=(40, width)).astype(dtype)
    acc = np.full(dc.ROWS * width + 5, 7, dtype)
    dc.tile(x, rows, 3, offs, 2, 30, b.ravel(), width, acc, 5)   # taps 2..29, panel from b[1]
    gathered = x[rows[3:3 + dc.ROWS, None] + offs[None, 2:30]].astype(np.float64)
    panel = b[3:31].astype(np.float64)
    want = gathered @ panel
    scale = np.abs(gathered) @ np.abs(panel)                     # rounding grows with it
    eps = np.finfo(dtype).eps
    assert (np.abs(acc[5:].reshape(dc.ROWS, width) - want) <= 40 * eps * scale).all()
    assert (acc[:5] == 7).all()
