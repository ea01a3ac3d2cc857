"""Eltwise, Scale and Bias kernels against their CPU twins."""
import numpy as np
import pytest

from layerflow.kernels.cpu import eltwise as celt
from layerflow.kernels.cpu import scale as csc
from layerflow.kernels.cuda import eltwise as gelt
from layerflow.kernels.cuda import scale as gsc

from .util import DTYPES, dev, host, tol

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize("dtype", DTYPES)
def test_eltwise(rng, dtype):
    n = 37
    a, b, c, dy = (rng.standard_normal(n).astype(dtype) for _ in range(4))
    b[:4] = a[:4]                                       # MAX ties go to the first

    def both(name, *args, outs):
        """Run the CPU and the CUDA kernel on copies of `outs` (indices into args)."""
        cargs = [x.copy() if k in outs else x for k, x in enumerate(args)]
        gargs = [dev(x) if isinstance(x, np.ndarray) else x for x in args]
        getattr(celt, name)(*cargs)
        getattr(gelt, name)(*gargs)
        for k in outs:
            np.testing.assert_allclose(host(gargs[k]), cargs[k], **tol(dtype))

    y, arg = np.zeros(n, dtype), np.zeros(n, np.int32)
    both("weighted_sum2", a, 0.5, b, -2.0, y, outs=[4])
    both("axpy", a, 0.25, c, outs=[2])
    both("scale_into", a, 3.0, y, outs=[2])
    both("multiply2", a, b, y, outs=[2])
    both("multiply_into", a, c, outs=[1])
    both("divide_product", dy, c, a, y, outs=[3])
    both("max2", a, b, y, arg, outs=[2, 3])
    both("max_update", c, 2, a.copy(), arg, outs=[2, 3])
    both("max_backward", dy, (np.arange(n) % 3).astype(np.int32), 1, y, outs=[3])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 7), (1, 37, 1)])
def test_scale_bias(rng, shape, dtype):
    S = shape[1]
    x, dy = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    scale, bias = (rng.standard_normal(S).astype(dtype) for _ in range(2))
    ds0, db0 = (rng.standard_normal(S).astype(dtype) for _ in range(2))
    y, dx = np.empty_like(x), np.empty_like(x)
    ds, db = ds0.copy(), db0.copy()
    csc.scale_forward(x, scale, bias, y)
    csc.scale_backward(x, dy, scale, ds, db, dx, True)
    gy, gdx, gds, gdb = dev(np.zeros_like(x)), dev(np.zeros_like(x)), dev(ds0), dev(db0)
    gsc.scale_forward(dev(x), dev(scale), dev(bias), gy)
    gsc.scale_backward(dev(x), dev(dy), dev(scale), gds, gdb, gdx, True)
    for got, want in ((gy, y), (gdx, dx), (gds, ds), (gdb, db)):
        np.testing.assert_allclose(host(got), want, **tol(dtype))
    # in place, without a bias gradient
    gyy, gxs = dev(x), dev(np.zeros_like(x))
    gsc.scale_forward_inplace(gyy, dev(scale), dev(bias), gxs)
    np.testing.assert_allclose(host(gyy), y, **tol(dtype))
    np.testing.assert_array_equal(host(gxs), x)
    gd, gds = dev(dy), dev(ds0)
    gsc.scale_backward_inplace(gxs, gd, dev(scale), gds, dev(np.zeros(0, dtype)), True)
    np.testing.assert_allclose(host(gd), dx, **tol(dtype))
    np.testing.assert_allclose(host(gds), ds, **tol(dtype))
    # Bias
    yb, dbb = np.empty_like(x), db0.copy()
    csc.bias_forward(x, bias, yb)
    csc.bias_backward(dy, dbb)
    gyb, gdbb = dev(x), dev(db0)
    gsc.bias_forward_inplace(gyb, dev(bias))
    gsc.bias_backward(dev(dy), gdbb)
    np.testing.assert_allclose(host(gyb), yb, **tol(dtype))
    np.testing.assert_allclose(host(gdbb), dbb, **tol(dtype))
