import numpy as np
import pytest

from layerflow.layer import ShapeError
from layerflow.runtime import Runtime

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_inner_product_gradient(transpose, bias):
    x = RNG.normal(size=(3, 2, 2, 2))
    params = {"num_output": 4, "transpose": transpose, "bias_term": bias,
              "bias_filler": {"type": "gaussian"}}
    layer, bottom, top = make_layer("InnerProduct", params, [x])
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("concurrent", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [1, 2])
def test_inner_product_matches_torch(monkeypatch, dtype, axis, concurrent):
    """Also with the data and weight gradients on two threads (conv nets, where OpenBLAS
    is held at one thread)."""
    import layerflow.layers.inner_product as ip
    monkeypatch.setattr(ip, "SPLIT_FLOPS", 0)
    x = RNG.normal(size=(2, 3, 4, 5)).astype(dtype)
    runtime = Runtime(threads=2 if concurrent else 1, blas_threads=1)
    layer, bottom, top = make_layer("InnerProduct", {"num_output": 6, "axis": axis,
                                                     "bias_filler": {"type": "uniform"}},
                                    [x], dtype=dtype, runtime=runtime)
    (y,) = forward(layer, bottom, top)
    dy = RNG.normal(size=y.shape).astype(dtype)
    (dx,), (dw, db) = backward(layer, bottom, top, [dy])
    tx, tw, tb = (to_torch(a) for a in (x, layer.blobs[0].data, layer.blobs[1].data))
    ty = torch.nn.functional.linear(tx.reshape(*x.shape[:axis], -1), tw, tb)
    ty.backward(torch.tensor(dy))
    assert y.shape == tuple(ty.shape)
    for ours, theirs in ((y, ty), (dx, tx.grad), (dw, tw.grad), (db, tb.grad)):
        theirs = theirs.detach().numpy()
        np.testing.assert_allclose(ours, theirs, rtol=10 * tol(dtype)[0], atol=10 * tol(dtype)[1])


def test_inner_product_param_diffs_accumulate():
    x = RNG.normal(size=(4, 3))
    layer, bottom, top = make_layer("InnerProduct", {"num_output": 2}, [x])
    forward(layer, bottom, top)
    top[0].diff[...] = 1.0
    for b in layer.blobs:
        b.diff[...] = 0
    layer.backward(top, [False], bottom)
    once = [b.diff.copy() for b in layer.blobs]
    layer.backward(top, [False], bottom)
    for b, g in zip(layer.blobs, once):
        np.testing.assert_allclose(b.diff, 2 * g)


def test_inner_product_rejects_changed_input_size():
    layer, bottom, top = make_layer("InnerProduct", {"num_output": 2}, [np.zeros((4, 3))])
    bottom[0].reshape((4, 5))
    with pytest.raises(ShapeError, match=r"bottom0.*\[4, 5\].*expect 3"):
        layer.reshape(bottom, top)
