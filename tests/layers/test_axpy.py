import numpy as np
import pytest

from layerflow.layer import ShapeError

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("a_shape", [(2, 3), (2, 3, 1, 1)])
def test_axpy_gradient(a_shape):
    xs = [RNG.normal(size=a_shape), RNG.normal(size=(2, 3, 2, 3)), RNG.normal(size=(2, 3, 2, 3))]
    layer, bottom, top = make_layer("Axpy", {}, xs)
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
def test_axpy_matches_torch(dtype):
    a = RNG.normal(size=(2, 4, 1, 1)).astype(dtype)
    x, y = (RNG.normal(size=(2, 4, 3, 5)).astype(dtype) for _ in range(2))
    layer, bottom, top = make_layer("Axpy", {}, [a, x, y], dtype=dtype)
    (out,) = forward(layer, bottom, top)
    dtop = RNG.normal(size=out.shape).astype(dtype)
    grads, _ = backward(layer, bottom, top, [dtop])
    ts = [to_torch(v) for v in (a, x, y)]
    tout = ts[0] * ts[1] + ts[2]
    tout.backward(torch.tensor(dtop))
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol, atol)
    for g, t in zip(grads, ts):
        np.testing.assert_allclose(g, t.grad.numpy(), 10 * rtol, 10 * atol)


def test_axpy_shape_errors():
    with pytest.raises(ShapeError, match=r"\(N, C\)"):
        make_layer("Axpy", {}, [np.zeros((2, 4)), np.zeros((2, 3, 2)), np.zeros((2, 3, 2))])
    with pytest.raises(ShapeError, match="one shape"):
        make_layer("Axpy", {}, [np.zeros((2, 3)), np.zeros((2, 3, 2)), np.zeros((2, 3, 3))])
