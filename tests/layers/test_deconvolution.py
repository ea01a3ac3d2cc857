import numpy as np
import pytest

from layerflow import ShapeError

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, torch

F = torch.nn.functional

GRID = [
    ({"num_output": 3, "kernel_size": 3}, (2, 2, 4, 5)),
    ({"num_output": 4, "kernel_size": 4, "stride": 2, "pad": 1}, (1, 3, 5, 3)),
    ({"num_output": 4, "kernel_size": [3, 2], "stride": [2, 3], "pad": [1, 0],
      "dilation": [2, 1], "group": 2}, (2, 4, 3, 4)),
    ({"num_output": 2, "kernel_size": 2, "stride": 2, "bias_term": False}, (1, 1, 3, 3)),
]


def close(dtype):
    return {"rtol": 2e-4, "atol": 2e-5} if dtype == np.float32 else {"rtol": 1e-9, "atol": 1e-11}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("params,shape", GRID)
def test_deconvolution_matches_conv_transpose2d(params, shape, dtype):
    rng = np.random.default_rng(4)
    x = rng.normal(size=shape).astype(dtype)
    layer, bottom, top = make_layer("Deconvolution", dict(params, bias_filler={
        "type": "gaussian", "std": 1}), [x], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    dy = rng.normal(size=y.shape).astype(dtype)
    (dx,), grads = backward(layer, bottom, top, [dy])
    p = layer.p
    tx, tw = to_torch(x), to_torch(layer.blobs[0].data.copy())
    tb = to_torch(layer.blobs[1].data.copy()) if p.bias_term else None
    ty = F.conv_transpose2d(tx, tw, tb, stride=p.strides, padding=p.pads,
                            dilation=p.dilations, groups=p.group)
    ty.backward(torch.tensor(dy))
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y, ty.detach().numpy(), **close(dtype))
    np.testing.assert_allclose(dx, tx.grad.numpy(), **close(dtype))
    np.testing.assert_allclose(grads[0], tw.grad.numpy(), **close(dtype))
    if p.bias_term:
        np.testing.assert_allclose(grads[1], tb.grad.numpy(), **close(dtype))


def test_deconvolution_gradient():
    params, shape = GRID[2]
    x = np.random.default_rng(6).normal(size=shape)
    layer, bottom, top = make_layer("Deconvolution", dict(params, bias_filler={
        "type": "gaussian", "std": 1}), [x])
    assert layer.blobs[0].shape == (4, 2, 3, 2)     # (C, num_output / group, kh, kw)
    check_gradient(layer, bottom, top)


def test_pad_too_large_names_layer_and_shape():
    with pytest.raises(ShapeError, match=r"'deconvolution'.*\[1, 1, 1, 1\].*output would be"):
        make_layer("Deconvolution", {"num_output": 1, "kernel_size": 2, "pad": 1},
                   [np.zeros((1, 1, 1, 1))])
