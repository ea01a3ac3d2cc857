"""The catalogue's loss kernels (SigmoidCrossEntropy, SmoothL1, Hinge, MultinomialLogistic,
Infogain, Contrastive) against their CPU twins: the sums come from one block in a fixed
order (they equal the CPU's to rounding and repeat bit for bit), the gradients elementwise;
bad labels are reported at the CPU's position."""
import numpy as np
import pytest

from layerflow.kernels.cpu import contrastive_loss as ccon
from layerflow.kernels.cpu import hinge_loss as chin
from layerflow.kernels.cpu import infogain_loss as cinf
from layerflow.kernels.cpu import multinomial_logistic_loss as cmlg
from layerflow.kernels.cpu import sigmoid_cross_entropy_loss as csce
from layerflow.kernels.cpu import smooth_l1_loss as csl1
from layerflow.kernels.cuda import contrastive_loss as gcon
from layerflow.kernels.cuda import hinge_loss as ghin
from layerflow.kernels.cuda import infogain_loss as ginf
from layerflow.kernels.cuda import multinomial_logistic_loss as gmlg
from layerflow.kernels.cuda import sigmoid_cross_entropy_loss as gsce
from layerflow.kernels.cuda import smooth_l1_loss as gsl1

from .util import DTYPES, dev, host, tol

pytestmark = pytest.mark.cuda


def _sum_tol(dtype):
    return dict(rtol=1e-6 if dtype == np.float32 else 1e-12)


def _close(got, want, dtype, factor=4):
    t = tol(dtype)
    np.testing.assert_allclose(got, want, rtol=t["rtol"] * factor, atol=t["atol"] * factor)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ignore", [None, 1])
def test_sigmoid_cross_entropy(rng, ignore, dtype):
    n = 75                                          # a block and some, wrapping its loop
    x = (rng.standard_normal(n) * 3).astype(dtype)
    x[0], x[1] = 80.0, -80.0
    t = rng.integers(0, 2, n).astype(dtype)
    t[5:9] = rng.uniform(size=4)                    # probabilities as targets
    args = (0 if ignore is None else ignore, ignore is not None)
    sig = np.zeros_like(x)
    total, count = csce.sigmoid_ce_forward(x, t, *args, sig)
    gsig = dev(np.zeros_like(x))
    gtotal, gcount = gsce.sigmoid_ce_forward(dev(x), dev(t), *args, gsig)
    assert gcount == count
    np.testing.assert_allclose(gtotal, total, **_sum_tol(dtype))
    _close(host(gsig), sig, dtype)
    assert gsce.sigmoid_ce_forward(dev(x), dev(t), *args, gsig) == (gtotal, gcount)  # repeats
    dx, gdx = np.zeros_like(x), dev(np.zeros_like(x))
    csce.sigmoid_ce_backward(sig, t, *args, dtype(0.3), dx)
    gsce.sigmoid_ce_backward(gsig, dev(t), *args, dtype(0.3), gdx)
    _close(host(gdx), dx, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weights", [0, 2])
def test_smooth_l1(rng, weights, dtype):
    n = 75
    a, b = (rng.standard_normal(n).astype(dtype) for _ in range(2))
    w_in = rng.uniform(0.5, 2, n).astype(dtype)
    w_out = rng.uniform(0.5, 2, n).astype(dtype)
    none = np.zeros(1, dtype)
    has = weights > 0
    sigma2 = dtype(2.0)
    grad = np.zeros_like(a)
    total = csl1.smooth_l1_forward(a, b, w_in if has else none, has, w_out if has else none,
                                   has, sigma2, grad)
    ggrad = dev(np.zeros_like(a))
    gnone = dev(none)
    gtotal = gsl1.smooth_l1_forward(dev(a), dev(b), dev(w_in) if has else gnone, has,
                                    dev(w_out) if has else gnone, has, sigma2, ggrad)
    np.testing.assert_allclose(gtotal, total, **_sum_tol(dtype))
    _close(host(ggrad), grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_hinge(rng, dtype):
    x = rng.standard_normal((7, 11)).astype(dtype)   # 77 elements: the loop wraps
    labels = rng.integers(0, 11, 7).astype(dtype)
    m = np.zeros_like(x)
    l1, l2, bad = chin.hinge_forward(x, labels, m)
    gm = dev(np.zeros_like(x))
    gl1, gl2, gbad = ghin.hinge_forward(dev(x), dev(labels), gm)
    assert gbad == bad == -1
    np.testing.assert_allclose([gl1, gl2], [l1, l2], **_sum_tol(dtype))
    np.testing.assert_array_equal(host(gm), m)
    for squared in (False, True):
        dx, gdx = np.zeros_like(x), dev(np.zeros_like(x))
        chin.hinge_backward(m, labels, dtype(0.25), squared, dx)
        ghin.hinge_backward(gm, dev(labels), dtype(0.25), squared, gdx)
        np.testing.assert_array_equal(host(gdx), dx)
    labels[3], labels[5] = 11, -1
    assert ghin.hinge_forward(dev(x), dev(labels), gm) == chin.hinge_forward(x, labels, m)


@pytest.mark.parametrize("dtype", DTYPES)
def test_multinomial_logistic(rng, dtype):
    p = rng.uniform(size=(37, 4)).astype(dtype)
    p[0] = 0                                         # clamped at 1e-20
    labels = rng.integers(0, 4, 37).astype(dtype)
    total, bad = cmlg.mlogistic_forward(p, labels)
    gtotal, gbad = gmlg.mlogistic_forward(dev(p), dev(labels))
    assert gbad == bad == -1
    np.testing.assert_allclose(gtotal, total, **_sum_tol(dtype))
    dx, gdx = np.zeros_like(p), dev(np.full_like(p, np.nan))
    cmlg.mlogistic_backward(p, labels, dtype(0.5), dx)
    gmlg.mlogistic_backward(dev(p), dev(labels), dtype(0.5), gdx)
    np.testing.assert_array_equal(host(gdx), dx)
    labels[30], labels[33] = 4, 7
    assert gmlg.mlogistic_forward(dev(p), dev(labels)) == (0.0, 30)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ignore", [None, 2])
def test_infogain(rng, ignore, dtype):
    outer, c, inner = 3, 4, 13                       # 39 positions: the loop wraps
    prob = rng.uniform(0.01, 1, (outer, c, inner)).astype(dtype)
    labels = rng.integers(0, c, outer * inner).astype(dtype)
    h = rng.uniform(size=(c, c)).astype(dtype)
    rows = h.sum(axis=1).astype(dtype)
    args = (0 if ignore is None else ignore, ignore is not None)
    total, count = cinf.infogain_forward(prob, labels, h, *args)
    gtotal, gcount = ginf.infogain_forward(dev(prob), dev(labels), dev(h), *args)
    assert gcount == count
    np.testing.assert_allclose(gtotal, total, **_sum_tol(dtype))
    dx, gdx = np.zeros_like(prob), dev(np.zeros_like(prob))
    cinf.infogain_backward(prob, labels, h, rows, *args, dtype(0.5), dx)
    ginf.infogain_backward(dev(prob), dev(labels), dev(h), dev(rows), *args, dtype(0.5), gdx)
    _close(host(gdx), dx, dtype)
    labels[20], labels[25] = 2 if ignore is None else 9, 5    # the first bad one is reported
    want = cinf.infogain_forward(prob, labels, h, *args)
    assert ginf.infogain_forward(dev(prob), dev(labels), dev(h), *args) == want
    assert want[1] < 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("legacy", [False, True])
def test_contrastive(rng, legacy, dtype):
    n, c = 37, 3
    a, b = (rng.standard_normal((n, c)).astype(dtype) * 0.6 for _ in range(2))
    sim = rng.integers(0, 2, n).astype(dtype)
    b[0] = a[0]                                     # D = 0 (dissimilar: the epsilon)
    sim[0] = 0
    margin = dtype(1.0)
    diff, dsq = np.zeros_like(a), np.zeros(n, dtype)
    total = ccon.contrastive_forward(a, b, sim, margin, legacy, diff, dsq)
    gdiff, gdsq = dev(np.zeros_like(a)), dev(np.zeros(n, dtype))
    gtotal = gcon.contrastive_forward(dev(a), dev(b), dev(sim), margin, legacy, gdiff, gdsq)
    np.testing.assert_allclose(gtotal, total, **_sum_tol(dtype))
    np.testing.assert_array_equal(host(gdiff), diff)
    _close(host(gdsq), dsq, dtype)
    for alpha in (dtype(0.5), dtype(-0.5)):
        out, gout = np.zeros_like(a), dev(np.zeros_like(a))
        ccon.contrastive_backward(diff, dsq, sim, margin, legacy, alpha, out)
        gcon.contrastive_backward(gdiff, gdsq, dev(sim), margin, legacy, alpha, gout)
        _close(host(gout), out, dtype)
