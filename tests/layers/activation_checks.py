"""Checks shared by the element-wise activation tests: PyTorch comparison (forward and
backward) and in-place against out-of-place."""
import numpy as np

from .harness import backward, forward, make_layer, to_torch, tol, torch


def compare_with_torch(type_name, params, x, fn, dtype, rtol=None, atol=None):
    """Forward and dx of the layer against `fn` (a torch function of a tensor)."""
    x = x.astype(dtype)
    dy = np.random.default_rng(7).normal(size=x.shape).astype(dtype)
    layer, bottom, top = make_layer(type_name, params, [x], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    (dx,), _ = backward(layer, bottom, top, [dy])
    tx = to_torch(x)
    ty = fn(tx)
    ty.backward(torch.tensor(dy))
    r, a = tol(dtype)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol or r, atol or a)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol or r, atol or a)
    return y, dx


def check_in_place(type_name, params, x):
    """Running with top == bottom gives the out-of-place top and dx (float64)."""
    dy = np.random.default_rng(3).normal(size=x.shape)
    layer, bottom, top = make_layer(type_name, params, [x])
    (y,) = forward(layer, bottom, top)
    (dx,), _ = backward(layer, bottom, top, [dy])
    layer2, bottom2, _ = make_layer(type_name, params, [x])
    layer2.reshape(bottom2, bottom2)
    layer2.forward(bottom2, bottom2)
    np.testing.assert_array_equal(bottom2[0].data, y)
    bottom2[0].diff[...] = dy
    layer2.backward(bottom2, [True], bottom2)
    np.testing.assert_allclose(bottom2[0].diff, dx, rtol=1e-14, atol=0)
