"""fexp, the vectorizable float32 exp of the activation kernels, against libm and exact."""
import math

import numpy as np
from numba import njit

from layerflow.kernels.cpu.fastexp import fexp


@njit(cache=True)
def fexp_all(x, out):
    for i in range(x.size):
        out[i] = fexp(x[i])


def test_fexp_float32_within_two_ulp_over_its_whole_range():
    x = (np.arange(-104 * 128, 89 * 128) / 128).astype(np.float32)
    x = np.concatenate([x, np.random.default_rng(0).uniform(-104, 89, 20000).astype(np.float32)])
    out = np.empty_like(x)
    fexp_all(x, out)
    exact = np.exp(x.astype(np.float64))
    normal = (exact > np.finfo(np.float32).tiny) & (exact < np.finfo(np.float32).max)
    ulp = np.abs(out[normal] - exact[normal]) / np.spacing(exact[normal].astype(np.float32))
    assert ulp.max() <= 2.0
    tiny = exact <= np.finfo(np.float32).tiny                  # denormals and underflow
    assert np.all(np.abs(out[tiny] - exact[tiny]) <= 8 * 1.4e-45)


def test_fexp_float32_edges():
    x = np.array([np.nan, np.inf, -np.inf, 88.8, 89.0, 1000.0, -104.0, -1000.0, 0.0, -0.0],
                 np.float32)
    out = np.empty_like(x)
    fexp_all(x, out)
    assert np.isnan(out[0])
    np.testing.assert_array_equal(out[1:], [np.inf, 0, np.inf, np.inf, np.inf, 0, 0, 1, 1])


def test_fexp_float64_is_math_exp():
    x = np.linspace(-700, 700, 1001)
    out = np.empty_like(x)
    fexp_all(x, out)
    np.testing.assert_array_equal(out, [math.exp(v) for v in x])
