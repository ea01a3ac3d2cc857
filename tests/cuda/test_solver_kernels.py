"""The seven fused update rules and the solver's reductions against their CPU twins."""
import numpy as np
import pytest

import layerflow.kernels.cpu.adadelta as c_adadelta
import layerflow.kernels.cpu.adagrad as c_adagrad
import layerflow.kernels.cpu.adam as c_adam
import layerflow.kernels.cpu.adamw as c_adamw
import layerflow.kernels.cpu.nesterov as c_nesterov
import layerflow.kernels.cpu.rmsprop as c_rmsprop
import layerflow.kernels.cpu.sgd as c_sgd
import layerflow.kernels.cpu.solver_norms as c_norms
import layerflow.kernels.cuda.adadelta as g_adadelta
import layerflow.kernels.cuda.adagrad as g_adagrad
import layerflow.kernels.cuda.adam as g_adam
import layerflow.kernels.cuda.adamw as g_adamw
import layerflow.kernels.cuda.nesterov as g_nesterov
import layerflow.kernels.cuda.rmsprop as g_rmsprop
import layerflow.kernels.cuda.sgd as g_sgd
import layerflow.kernels.cuda.solver_norms as g_norms

from .util import DTYPES, dev, host, tol

pytestmark = pytest.mark.cuda

# rule -> (cpu module, cuda module, history arrays, the scalars after (w, g, *history))
RULES = {
    "sgd": (c_sgd, g_sgd, 1, lambda l1: (0.01, 0.9, 0.5, 5e-4, l1)),
    "nesterov": (c_nesterov, g_nesterov, 1, lambda l1: (0.01, 0.9, 0.5, 5e-4, l1)),
    "adagrad": (c_adagrad, g_adagrad, 1, lambda l1: (0.01, 0.5, 5e-4, l1, 1e-8)),
    "rmsprop": (c_rmsprop, g_rmsprop, 1, lambda l1: (0.01, 0.5, 5e-4, l1, 0.98, 1e-8)),
    "adadelta": (c_adadelta, g_adadelta, 2, lambda l1: (1.0, 0.5, 5e-4, l1, 0.95, 1e-6)),
    "adam": (c_adam, g_adam, 2, lambda l1: (0.001, 0.5, 5e-4, l1, 0.9, 0.999, 1e-8, 0.3)),
    "adamw": (c_adamw, g_adamw, 2, lambda l1: (0.001, 0.5, 1e-2, l1, 0.9, 0.999, 1e-8, 0.3)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("l1", [False, True])
@pytest.mark.parametrize("rule", list(RULES))
def test_update_rule(rng, rule, l1, dtype):
    cpu, gpu, nhist, scalars = RULES[rule]
    name = f"{rule}_update"
    n = 37 if l1 else 300
    w = rng.standard_normal(n).astype(dtype)
    w[3] = 0.0                                          # sign(0) = 0 under L1
    g = rng.standard_normal(n).astype(dtype)
    hist = [np.abs(rng.standard_normal(n)).astype(dtype) for _ in range(nhist)]
    gw, gg, ghist = dev(w), dev(g), [dev(h) for h in hist]
    for _ in range(2):                                  # twice: the history is used
        getattr(cpu, name)(w, g, *hist, *scalars(l1))
        getattr(gpu, name)(gw, gg, *ghist, *scalars(l1))
    np.testing.assert_allclose(host(gw), w, **tol(dtype))
    for gh, h in zip(ghist, hist):
        np.testing.assert_allclose(host(gh), h, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_norms(rng, dtype):
    x = rng.standard_normal(300).astype(dtype)
    out, total = dev(np.zeros(3)), dev(np.zeros(2))
    g_norms.sumsq(dev(x), out, 0)
    g_norms.asum(dev(x), out, 1)
    g_norms.sumsq(dev(x[:37]), out, 2)
    g_norms.slots_total(out, 3, total, 1)
    got = host(out)
    # the CPU kernel squares float32 in float32 (numba keeps float(x) float32 there); the
    # CUDA one squares in float64: equal to float32 rounding
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, [c_norms.sumsq(x), c_norms.asum(x), c_norms.sumsq(x[:37])],
                               rtol=rtol)
    np.testing.assert_allclose(got[0], (x.astype(np.float64) ** 2).sum(), rtol=1e-12)
    np.testing.assert_allclose(host(total)[1], got.sum(), rtol=1e-12)
    assert g_norms.all_finite(dev(x), out, 0) and g_norms.all_finite(dev(x))
    assert g_norms.sumsq(dev(x)) == got[0] and g_norms.asum(dev(x)) == got[1]   # CPU's form
    for bad in (np.nan, np.inf):
        y = x.copy()
        y[-1] = bad
        assert not g_norms.all_finite(dev(y), out, 0) and not c_norms.all_finite(y)
        assert not g_norms.all_finite(dev(y)) and not np.isfinite(g_norms.sumsq(dev(y)))
        g_norms.sumsq(dev(y), out, 0)
        assert not np.isfinite(host(out)[0])
