import numpy as np
import pytest

from layerflow.config import ConfigError
from layerflow.layer import ShapeError

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch

F = torch.nn.functional
RNG = np.random.default_rng(0)
SHAPE = (2, 7, 3, 4)


def close(ours, theirs, dtype):
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(ours, theirs, rtol=10 * rtol, atol=10 * atol)


def caffe_across(x, n, alpha, beta, k):
    """Caffe's formula written out literally: scale = k + alpha/n * sum over the window."""
    out = np.empty_like(x)
    pre = (n - 1) // 2
    for c in range(x.shape[1]):
        window = x[:, max(0, c - pre):c + pre + 1]
        out[:, c] = x[:, c] * (k + alpha / n * (window ** 2).sum(axis=1)) ** -beta
    return out


def torch_within(tx, n, alpha, beta):
    """Caffe's WITHIN_CHANNEL: AVE pooling of x^2 (n x n, pad (n-1)/2, divisor n^2)."""
    avg = F.avg_pool2d(tx * tx, n, 1, (n - 1) // 2, count_include_pad=True)
    return tx * (1 + alpha * avg) ** -beta


@pytest.mark.parametrize("size", [1, 3, 5])
def test_lrn_across_gradient(size):
    x = RNG.normal(size=SHAPE)
    layer, bottom, top = make_layer("LRN", {"local_size": size, "alpha": 0.7, "beta": 0.75,
                                            "k": 1.5}, [x])
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("size", [3, 5])
def test_lrn_within_gradient(size):
    x = RNG.normal(size=(2, 2, 5, 4))
    layer, bottom, top = make_layer("LRN", {"local_size": size, "alpha": 0.9, "beta": 0.6,
                                            "norm_region": "WITHIN_CHANNEL"}, [x])
    check_gradient(layer, bottom, top)


def test_lrn_across_is_caffes_formula():
    x = RNG.normal(size=SHAPE)
    layer, bottom, top = make_layer("LRN", {"local_size": 5, "alpha": 2.0, "beta": 0.75,
                                            "k": 2.0}, [x])
    (y,) = forward(layer, bottom, top)
    np.testing.assert_allclose(y, caffe_across(x, 5, 2.0, 0.75, 2.0), rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size,alpha,beta,k", [  # every beta branch of the kernel
    (3, 0.5, 0.75, 2.0), (5, 0.1, 0.75, 1.0), (5, 0.7, 0.5, 1.0), (3, 0.7, 1.0, 1.5),
    (5, 0.7, 0.6, 1.0)])
def test_lrn_across_matches_torch(dtype, size, alpha, beta, k):
    x = RNG.normal(size=SHAPE).astype(dtype)
    dy = RNG.normal(size=SHAPE).astype(dtype)
    layer, bottom, top = make_layer("LRN", {"local_size": size, "alpha": alpha, "beta": beta,
                                            "k": k}, [x], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    (dx,), _ = backward(layer, bottom, top, [dy])
    tx = to_torch(x)
    # PyTorch's alpha is also divided by the window size: the same formula as Caffe's here.
    ty = F.local_response_norm(tx, size, alpha, beta, k)
    ty.backward(torch.tensor(dy))
    close(y, ty.detach().numpy(), dtype)
    close(dx, tx.grad.numpy(), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lrn_within_matches_torch(dtype):
    x = RNG.normal(size=SHAPE).astype(dtype)
    dy = RNG.normal(size=SHAPE).astype(dtype)
    layer, bottom, top = make_layer("LRN", {"local_size": 3, "alpha": 0.8, "beta": 0.75,
                                            "norm_region": "WITHIN_CHANNEL"}, [x], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    (dx,), _ = backward(layer, bottom, top, [dy])
    tx = to_torch(x)
    ty = torch_within(tx, 3, 0.8, 0.75)
    ty.backward(torch.tensor(dy))
    close(y, ty.detach().numpy(), dtype)
    close(dx, tx.grad.numpy(), dtype)


def test_lrn_follows_a_batch_size_change():
    layer, bottom, top = make_layer("LRN", {"local_size": 3}, [RNG.normal(size=SHAPE)])
    x = RNG.normal(size=(3,) + SHAPE[1:])
    bottom[0].reshape(x.shape)
    bottom[0].data[...] = x
    (y,) = forward(layer, bottom, top)
    np.testing.assert_allclose(y, caffe_across(x, 3, 1.0, 0.75, 1.0), rtol=1e-12)


@pytest.mark.parametrize("params,match", [
    ({"local_size": 4}, "odd 'local_size'"),
    ({"norm_region": "WITHIN_CHANNEL", "k": 2.0}, "'k' is used only ACROSS_CHANNELS"),
    ({"norm_region": "ACROSS"}, "must be one of"),
])
def test_lrn_rejects_bad_params(params, match):
    with pytest.raises(ConfigError, match=match):
        make_layer("LRN", params, [np.zeros(SHAPE)])


def test_lrn_rejects_non_4d_bottom():
    with pytest.raises(ShapeError, match=r"bottom0.*4-D.*\[2, 7\]"):
        make_layer("LRN", {}, [np.zeros((2, 7))])
