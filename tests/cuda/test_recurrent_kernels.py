"""The LSTM unit and RNN step kernels against their CPU twins (the layers' matrix products
are kernels/cuda/gemm.py, tested on its own)."""
import numpy as np
import pytest

from layerflow.kernels.cpu import lstm as clstm
from layerflow.kernels.cpu import rnn as crnn
from layerflow.kernels.cuda import lstm as glstm
from layerflow.kernels.cuda import rnn as grnn

from .util import DTYPES, dev, host, tol

pytestmark = pytest.mark.cuda


def _close(got, want, dtype, factor=8):
    t = tol(dtype)
    np.testing.assert_allclose(host(got), want, rtol=t["rtol"] * factor, atol=t["atol"] * factor)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_unit(rng, dtype):
    n, h = 3, 13                                     # 39 cells: a partial block and more
    pre = (rng.standard_normal((n, 4 * h)) * 2).astype(dtype)
    c_prev = rng.standard_normal((n, h)).astype(dtype)
    cont = np.array([1, 0, 1], dtype)
    outs = [np.zeros((n, 4 * h), dtype)] + [np.zeros((n, h), dtype) for _ in range(3)]
    clstm.lstm_unit_forward(pre, c_prev, cont, *outs)
    gouts = [dev(np.zeros_like(a)) for a in outs]
    glstm.lstm_unit_forward(dev(pre), dev(c_prev), dev(cont), *gouts)
    for g, want in zip(gouts, outs):
        _close(g, want, dtype)
    gates, c, tanh_c, _ = outs
    dh, dc = (rng.standard_normal((n, h)).astype(dtype) for _ in range(2))
    dpre, dc_prev = np.zeros((n, 4 * h), dtype), np.zeros((n, h), dtype)
    clstm.lstm_unit_backward(dh, dc, gates, c_prev, tanh_c, cont, dpre, dc_prev)
    gdpre, gdc_prev = dev(np.zeros_like(dpre)), dev(np.zeros_like(dc_prev))
    glstm.lstm_unit_backward(dev(dh), dev(dc), dev(gates), dev(c_prev), dev(tanh_c), dev(cont),
                             gdpre, gdc_prev)
    _close(gdpre, dpre, dtype)
    _close(gdc_prev, dc_prev, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_rnn_steps(rng, dtype):
    pre = (rng.standard_normal((3, 13)) * 2).astype(dtype)
    dy = rng.standard_normal((3, 13)).astype(dtype)
    cont = np.array([0, 1, 1], dtype)
    y, dpre, masked = (np.zeros_like(pre) for _ in range(3))
    crnn.tanh_forward(pre, y)
    crnn.tanh_backward(dy, y, dpre)
    crnn.mask_rows(cont, pre, masked)
    gy, gdpre, gmasked = (dev(np.zeros_like(pre)) for _ in range(3))
    grnn.tanh_forward(dev(pre), gy)
    grnn.tanh_backward(dev(dy), dev(y), gdpre)
    grnn.mask_rows(dev(cont), dev(pre), gmasked)
    _close(gy, y, dtype)
    _close(gdpre, dpre, dtype)
    np.testing.assert_array_equal(host(gmasked), masked)
