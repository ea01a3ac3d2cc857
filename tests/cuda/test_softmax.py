"""Softmax, SoftmaxWithLoss and Accuracy kernels against their CPU twins."""
import numpy as np
import pytest

from layerflow.kernels.cpu import accuracy as cacc
from layerflow.kernels.cpu import softmax as csm
from layerflow.kernels.cpu import softmax_loss as closs
from layerflow.kernels.cuda import accuracy as gacc
from layerflow.kernels.cuda import softmax as gsm
from layerflow.kernels.cuda import softmax_loss as gloss

from .util import DTYPES, dev, host, tol

pytestmark = pytest.mark.cuda

SHAPES = [(3, 10, 1), (2, 5, 7), (37, 4, 1)]     # 37 and 14 positions: partial blocks


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_softmax(rng, shape, dtype):
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    y, dx = np.empty_like(x), np.empty_like(x)
    csm.softmax_forward(x, y)
    csm.softmax_backward(y, dy, dx)
    gy, gdx = dev(np.zeros_like(x)), dev(np.zeros_like(x))
    gsm.softmax_forward(dev(x), gy)
    gsm.softmax_backward(dev(y), dev(dy), gdx)
    np.testing.assert_allclose(host(gy), y, **tol(dtype))
    np.testing.assert_allclose(host(gdx), dx, **tol(dtype))


def _labels(rng, shape, ignore=None):
    outer, channels, inner = shape
    labels = rng.integers(0, channels, outer * inner).astype(np.float32)
    if ignore is not None:
        labels[::3] = ignore
    return labels


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("ignore", [None, 255])
def test_softmax_loss(rng, shape, dtype, ignore):
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    labels = _labels(rng, shape, ignore)
    args = (ignore if ignore is not None else 0, ignore is not None)
    prob, dx = np.empty_like(x), np.empty_like(x)
    total, count = closs.softmax_loss_forward(x, labels, *args, prob)
    closs.softmax_loss_backward(prob, labels, *args, 0.25, dx)
    gprob, gdx = dev(np.zeros_like(x)), dev(np.zeros_like(x))
    gtotal, gcount = gloss.softmax_loss_forward(dev(x), dev(labels), *args, gprob)
    gloss.softmax_loss_backward(gprob, dev(labels), *args, 0.25, gdx)
    assert gcount == count
    np.testing.assert_allclose(gtotal, total, rtol=1e-6 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(host(gprob), prob, **tol(dtype))
    np.testing.assert_allclose(host(gdx), dx, **tol(dtype))


def test_softmax_loss_bad_label(rng):
    shape = (5, 3, 2)
    x = rng.standard_normal(shape).astype(np.float32)
    labels = _labels(rng, shape)
    labels[7], labels[4] = 3, -2                       # the first bad one is position 4
    want = closs.softmax_loss_forward(x, labels, 0, False, np.empty_like(x))
    got = gloss.softmax_loss_forward(dev(x), dev(labels), 0, False, dev(np.zeros_like(x)))
    assert got[1] == want[1] == -1 - 4


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("top_k", [1, 3])
@pytest.mark.parametrize("ignore", [None, 1])
def test_accuracy(rng, shape, top_k, ignore):
    scores = rng.standard_normal(shape).astype(np.float32)
    scores[0, :, 0] = 0.5                                 # ties count against
    labels = _labels(rng, shape, ignore)
    args = (top_k, ignore if ignore is not None else 0, ignore is not None)
    want = cacc.topk_correct(scores, labels, *args)
    got = gacc.topk_correct(dev(scores), dev(labels), *args)
    assert got == tuple(want)
    labels[-1] = 99
    want = cacc.topk_correct(scores, labels, *args)
    got = gacc.topk_correct(dev(scores), dev(labels), *args)
    assert got == tuple(want)
