"""The elementwise kernels of the Caffe catalogue (ELU, PReLU, Swish, GELU, AbsVal, BNLL,
Clip, Exp, Log, Power, Threshold) against their CPU twins, out of place and in place, on
sizes that are not multiples of the simulator's block (launch.py: 32 threads, 4 blocks)."""
import numpy as np
import pytest

from layerflow.kernels.cpu import absval as cabs
from layerflow.kernels.cpu import bnll as cbnll
from layerflow.kernels.cpu import clip as cclip
from layerflow.kernels.cpu import elu as celu
from layerflow.kernels.cpu import exp as cexp
from layerflow.kernels.cpu import gelu as cgelu
from layerflow.kernels.cpu import log as clog
from layerflow.kernels.cpu import power as cpow
from layerflow.kernels.cpu import prelu as cprelu
from layerflow.kernels.cpu import swish as cswish
from layerflow.kernels.cpu import threshold as cthr
from layerflow.kernels.cuda import absval as gabs
from layerflow.kernels.cuda import bnll as gbnll
from layerflow.kernels.cuda import clip as gclip
from layerflow.kernels.cuda import elu as gelu_
from layerflow.kernels.cuda import exp as gexp
from layerflow.kernels.cuda import gelu as ggelu
from layerflow.kernels.cuda import log as glog
from layerflow.kernels.cuda import power as gpow
from layerflow.kernels.cuda import prelu as gprelu
from layerflow.kernels.cuda import swish as gswish
from layerflow.kernels.cuda import threshold as gthr

from .util import DTYPES, dev, host, tol

pytestmark = pytest.mark.cuda

N = [37, 300]       # a partial block; a size that wraps the simulator's grid-stride loop


def _inputs(rng, n, dtype, spread=3.0):
    x = (rng.standard_normal(n) * spread).astype(dtype)
    x[0] = 0.0
    return x, rng.standard_normal(n).astype(dtype)


def _close(got, want, dtype, factor=1):
    t = tol(dtype)
    np.testing.assert_allclose(host(got), want, rtol=t["rtol"] * factor, atol=t["atol"] * factor)


def _pair(cpu_fn, gpu_fn, host_args, out_like, dtype, factor=1, exact=False):
    """Run cpu_fn on host_args + [out] and gpu_fn on their device copies; compare outs."""
    want = np.zeros_like(out_like)
    cpu_fn(*host_args, want)
    got = dev(np.zeros_like(out_like))
    gpu_fn(*[dev(a) if isinstance(a, np.ndarray) else a for a in host_args], got)
    if exact:
        np.testing.assert_array_equal(host(got), want)
    else:
        _close(got, want, dtype, factor)
    return want


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", N)
def test_elu(rng, n, dtype):
    x, dy = _inputs(rng, n, dtype)
    alpha = dtype(0.7)
    y = _pair(celu.elu_forward, gelu_.elu_forward, [x, alpha], x, dtype, factor=4)
    _pair(celu.elu_backward, gelu_.elu_backward, [x, y, dy, alpha], x, dtype, factor=4)
    gx, gd = dev(x), dev(dy)                  # in place: x becomes y, dy becomes dx
    gelu_.elu_forward_inplace(gx, alpha)
    gelu_.elu_backward_inplace(gx, gd, alpha)
    wd = dy.copy()
    celu.elu_backward_inplace(y, wd, alpha)
    _close(gx, y, dtype, 4)
    _close(gd, wd, dtype, 4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,shared", [((2, 3, 7), False), ((3, 2, 25), False),
                                          ((2, 5, 31), True)])
def test_prelu(rng, shape, shared, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    slope = rng.uniform(0.1, 0.5, 1 if shared else shape[1]).astype(dtype)
    y, dx = np.zeros_like(x), np.zeros_like(x)
    dslope = np.full(slope.size, 0.5, dtype)           # the gradient adds into it
    cprelu.prelu_forward(x, slope, y)
    cprelu.prelu_backward(x, dy, slope, dslope, dx, True)
    gy, gdx = dev(np.zeros_like(x)), dev(np.zeros_like(x))
    gds = dev(np.full(slope.size, 0.5, dtype))
    gprelu.prelu_forward(dev(x), dev(slope), gy)
    gprelu.prelu_backward(dev(x), dev(dy), dev(slope), gds, gdx, True)
    np.testing.assert_array_equal(host(gy), y)
    np.testing.assert_array_equal(host(gdx), dx)
    _close(gds, dslope, dtype, 10)
    gx, saved, gd = dev(x), dev(np.zeros_like(x)), dev(dy)      # in place
    gds = dev(np.zeros(slope.size, dtype))
    gprelu.prelu_forward_inplace(gx, dev(slope), saved)
    np.testing.assert_array_equal(host(gx), y)
    np.testing.assert_array_equal(host(saved), x)
    gprelu.prelu_backward_inplace(saved, gd, dev(slope), gds, False)   # slope only
    np.testing.assert_array_equal(host(gd), dy)
    _close(gds, dslope - 0.5, dtype, 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", N)
def test_swish(rng, n, dtype):
    x, dy = _inputs(rng, n, dtype)
    x[1], x[2] = 90.0, -90.0
    beta = dtype(1.5)
    sig, y = np.zeros_like(x), np.zeros_like(x)
    cswish.swish_forward(x, beta, sig, y)
    gsig, gy = dev(np.zeros_like(x)), dev(np.zeros_like(x))
    gswish.swish_forward(dev(x), beta, gsig, gy)
    _close(gsig, sig, dtype, 4)
    _close(gy, y, dtype, 4)
    _pair(cswish.swish_backward, gswish.swish_backward, [y, sig, dy, beta], x, dtype, 4)
    gx, gd = dev(x), dev(dy)
    gswish.swish_forward_inplace(gx, beta, gsig)
    gswish.swish_backward_inplace(gx, gsig, gd, beta)
    wd = dy.copy()
    cswish.swish_backward_inplace(y, sig, wd, beta)
    _close(gx, y, dtype, 4)
    _close(gd, wd, dtype, 8)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("form", ["erf", "tanh"])
def test_gelu(rng, form, dtype):
    x, dy = _inputs(rng, 37, dtype)
    x[1], x[2] = 60.0, -60.0                     # exp(2u) overflows: t = 1 and -1
    name = "gelu_tanh" if form == "tanh" else "gelu"
    for suffix, args in (("forward", [x]), ("backward", [x, dy])):
        _pair(getattr(cgelu, f"{name}_{suffix}"), getattr(ggelu, f"{name}_{suffix}"), args, x,
              dtype, factor=8)


@pytest.mark.parametrize("dtype", DTYPES)
def test_absval_bnll(rng, dtype):
    x, dy = _inputs(rng, 300, dtype)
    x[1], x[2] = 100.0, -100.0
    _pair(cabs.absval_forward, gabs.absval_forward, [x], x, dtype, exact=True)
    _pair(cabs.absval_backward, gabs.absval_backward, [x, dy], x, dtype, exact=True)
    _pair(cbnll.bnll_forward, gbnll.bnll_forward, [x], x, dtype, factor=8)
    _pair(cbnll.bnll_backward, gbnll.bnll_backward, [x, dy], x, dtype, factor=8)


@pytest.mark.parametrize("dtype", DTYPES)
def test_clip(rng, dtype):
    x, dy = _inputs(rng, 37, dtype, spread=1.0)
    x[1], x[2], x[3] = -0.5, 0.5, np.nan          # the bounds pass the gradient; NaN does not
    lo, hi = dtype(-0.5), dtype(0.5)
    y = _pair(cclip.clip_forward, gclip.clip_forward, [x, lo, hi], x, dtype, exact=True)
    dx = _pair(cclip.clip_backward, gclip.clip_backward, [x, dy, lo, hi], x, dtype, exact=True)
    gx, mask, gd = dev(x), dev(np.zeros(x.size, np.uint8)), dev(dy)
    gclip.clip_forward_inplace(gx, lo, hi, mask)
    gclip.clip_backward_inplace(mask, gd)
    np.testing.assert_array_equal(host(gx), y)
    np.testing.assert_array_equal(host(gd), dx)
    wmask = np.zeros(x.size, np.uint8)
    cclip.clip_forward_inplace(x.copy(), lo, hi, wmask)
    np.testing.assert_array_equal(host(mask), wmask)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", N)
def test_exp_log(rng, n, dtype):
    x, dy = _inputs(rng, n, dtype, spread=1.0)
    inner, outer = dtype(0.5 * np.log(2)), dtype(2.0 ** 0.3)
    y = _pair(cexp.exp_forward, gexp.exp_forward, [x, inner, outer], x, dtype, factor=4)
    _pair(cexp.exp_backward, gexp.exp_backward, [y, dy, inner], x, dtype, factor=4)
    gx, gd = dev(x), dev(dy)
    gexp.exp_forward_inplace(gx, inner, outer)
    gexp.exp_backward_inplace(gx, gd, inner)
    wd = dy.copy()
    cexp.exp_backward_inplace(y, wd, inner)
    _close(gx, y, dtype, 4)
    _close(gd, wd, dtype, 8)
    pos = np.abs(x) + dtype(0.1)                   # the simulator's math.log refuses 0
    scale, shift, inv = dtype(2.0), dtype(0.5), dtype(1 / np.log(3))
    _pair(clog.log_forward, glog.log_forward, [pos, scale, shift, inv], x, dtype, factor=4)
    _pair(clog.log_backward, glog.log_backward, [pos, dy, scale, shift, inv], x, dtype, 4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("power", [1.0, 2.0, 0.5, -0.5, 3.0, -1.7])
def test_power(rng, power, dtype):
    x, dy = _inputs(rng, 37, dtype, spread=1.0)
    x = np.abs(x) + dtype(0.2)                     # positive bases: every power is defined
    p, scale, shift = dtype(power), dtype(1.5), dtype(0.25)
    _pair(cpow.power_forward, gpow.power_forward, [x, p, scale, shift], x, dtype, factor=8)
    _pair(cpow.power_backward, gpow.power_backward, [x, dy, p, scale, shift], x, dtype,
          factor=8)


@pytest.mark.parametrize("dtype", DTYPES)
def test_threshold(rng, dtype):
    x, _ = _inputs(rng, 300, dtype)
    x[1] = 0.25                                    # exactly at the threshold: 0
    t = dtype(0.25)
    y = _pair(cthr.threshold_forward, gthr.threshold_forward, [x, t], x, dtype, exact=True)
    gx = dev(x)
    gthr.threshold_forward_inplace(gx, t)
    np.testing.assert_array_equal(host(gx), y)
