"""flog and flog1p, the vectorizable float32 logarithms of the activation and loss kernels,
against libm and exact values."""
import math

import numpy as np
from numba import njit

from layerflow.kernels.cpu.fastlog import flog, flog1p


@njit(cache=True, error_model="numpy")
def flog_all(x, out):
    for i in range(x.size):
        out[i] = flog(x[i])


@njit(cache=True, error_model="numpy")
def flog1p_all(x, out):
    for i in range(x.size):
        out[i] = flog1p(x[i])


def test_flog_float32_within_two_ulp_over_the_positive_floats():
    rng = np.random.default_rng(0)
    x = np.concatenate([np.exp(rng.uniform(-103, 88.7, 50000)), rng.uniform(0.5, 2, 20000),
                        1 + rng.uniform(-1e-3, 1e-3, 5000)]).astype(np.float32)
    x = x[x > 0]
    out = np.empty_like(x)
    flog_all(x, out)
    exact = np.log(x.astype(np.float64))
    ok = exact != 0
    ulp = np.abs(out - exact)[ok] / np.spacing(np.abs(exact[ok]).astype(np.float32))
    assert ulp.max() <= 2.0


def test_flog_float32_edges():
    x = np.array([0, -0.0, -1, np.inf, np.nan, 1, 1.4e-45], np.float32)
    out = np.empty_like(x)
    flog_all(x, out)
    assert out[0] == out[1] == -np.inf and np.isnan(out[2]) and np.isnan(out[4])
    assert out[3] == np.inf and out[5] == 0
    np.testing.assert_allclose(out[6], np.log(np.float64(x[6])), rtol=1e-7)     # a denormal


def test_flog1p_float32_keeps_tiny_arguments():
    rng = np.random.default_rng(1)
    x = np.concatenate([np.exp(rng.uniform(-100, 0, 20000)), rng.uniform(-0.9, 5, 20000)])
    x = x.astype(np.float32)
    out = np.empty_like(x)
    flog1p_all(x, out)
    exact = np.log1p(x.astype(np.float64))
    assert (np.abs(out - exact) / np.abs(exact)).max() < 4e-7


def test_float64_is_libm():
    x = np.linspace(1e-3, 1e3, 1001)
    out = np.empty_like(x)
    flog_all(x, out)
    np.testing.assert_array_equal(out, [math.log(v) for v in x])
    flog1p_all(x, out)
    np.testing.assert_array_equal(out, [math.log1p(v) for v in x])
