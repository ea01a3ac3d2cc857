import textwrap

import numpy as np
import pytest

from layerflow import Net
from layerflow.config import ConfigError
from layerflow.layer import ShapeError

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch

F = torch.nn.functional
RNG = np.random.default_rng(0)


def close(ours, theirs, dtype, factor=10):
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(ours, theirs, rtol=factor * rtol, atol=factor * atol)


def set_stats(layer, mean, var, factor):
    layer.blobs[0].data[...] = mean * factor
    layer.blobs[1].data[...] = var * factor
    layer.blobs[2].data[...] = factor


@pytest.mark.parametrize("shape", [(4, 3, 2, 3), (5, 4)])
def test_batch_norm_gradient_batch_stats(shape):
    layer, bottom, top = make_layer("BatchNorm", {}, [RNG.normal(size=shape)])
    check_gradient(layer, bottom, top, check_params=False)


def test_batch_norm_gradient_global_stats():
    layer, bottom, top = make_layer("BatchNorm", {"use_global_stats": True},
                                    [RNG.normal(size=(3, 4, 2, 2))])
    set_stats(layer, RNG.normal(size=4), RNG.uniform(0.5, 2, 4), 2.5)
    check_gradient(layer, bottom, top, check_params=False)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3, 2, 3), (6, 5)])
def test_batch_norm_train_matches_torch(dtype, shape):
    x = (RNG.normal(size=shape) * 3 + 1).astype(dtype)
    dy = RNG.normal(size=shape).astype(dtype)
    layer, bottom, top = make_layer("BatchNorm", {"eps": 1e-3}, [x], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    (dx,), _ = backward(layer, bottom, top, [dy])
    tx = to_torch(x)
    rm, rv = torch.zeros(shape[1], dtype=tx.dtype), torch.ones(shape[1], dtype=tx.dtype)
    # momentum 1 makes PyTorch's running stats the batch's (unbiased variance), which is
    # what Caffe's sums divided by their factor hold after one step from zero.
    ty = F.batch_norm(tx, rm, rv, training=True, momentum=1.0, eps=1e-3)
    ty.backward(torch.tensor(dy))
    close(y, ty.detach().numpy(), dtype)
    close(dx, tx.grad.numpy(), dtype, factor=100)
    factor = layer.blobs[2].data[0]
    assert factor == 1.0
    close(layer.blobs[0].data / factor, rm.numpy(), dtype)
    close(layer.blobs[1].data / factor, rv.numpy(), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_test_phase_uses_stored_stats_like_torch_eval(dtype):
    shape = (3, 4, 2, 3)
    x = RNG.normal(size=shape).astype(dtype)
    dy = RNG.normal(size=shape).astype(dtype)
    mean, var = RNG.normal(size=4), RNG.uniform(0.5, 2, 4)
    layer, bottom, top = make_layer("BatchNorm", {}, [x], dtype=dtype, phase="TEST")
    set_stats(layer, mean, var, 3.0)
    (y,) = forward(layer, bottom, top)
    (dx,), _ = backward(layer, bottom, top, [dy])
    tx = to_torch(x)
    ty = F.batch_norm(tx, torch.tensor(mean, dtype=tx.dtype), torch.tensor(var, dtype=tx.dtype),
                      training=False, eps=1e-5)
    ty.backward(torch.tensor(dy))
    close(y, ty.detach().numpy(), dtype)
    close(dx, tx.grad.numpy(), dtype)
    np.testing.assert_array_equal(layer.blobs[2].data, [3.0])     # TEST does not update


def test_batch_norm_running_sums_follow_caffe():
    f = 0.9
    layer, bottom, top = make_layer("BatchNorm", {"moving_average_fraction": f},
                                    [np.zeros((4, 2, 3))])
    sums, factor = np.zeros((2, 2)), 0.0
    for _ in range(3):
        x = RNG.normal(size=(4, 2, 3)) * 2 + 1
        bottom[0].data[...] = x
        forward(layer, bottom, top)
        m = 4 * 3
        mean = x.mean(axis=(0, 2))
        var = x.var(axis=(0, 2)) * m / (m - 1)
        factor = f * factor + 1
        sums = f * sums + np.stack([mean, var])
    np.testing.assert_allclose(layer.blobs[2].data, [factor], rtol=1e-12)
    np.testing.assert_allclose(layer.blobs[0].data, sums[0], rtol=1e-12)
    np.testing.assert_allclose(layer.blobs[1].data, sums[1], rtol=1e-12)
    # and a TEST-phase layer reading those blobs normalizes with sums / factor
    test_layer, tb, tt = make_layer("BatchNorm", {}, [x], phase="TEST")
    for mine, theirs in zip(test_layer.blobs, layer.blobs):
        mine.data[...] = theirs.data
    (y,) = forward(test_layer, tb, tt)
    mu, var = sums / factor
    np.testing.assert_allclose(y, (x - mu[:, None]) / np.sqrt(var[:, None] + 1e-5), rtol=1e-12)


def test_batch_norm_zero_factor_means_zero_stats():
    x = RNG.normal(size=(2, 3))
    layer, bottom, top = make_layer("BatchNorm", {"use_global_stats": True}, [x])
    (y,) = forward(layer, bottom, top)
    np.testing.assert_allclose(y, x / np.sqrt(1e-5), rtol=1e-12)


@pytest.mark.parametrize("phase", ["TRAIN", "TEST"])
def test_batch_norm_in_place_survives_a_later_in_place_layer(phase):
    """Backward must not read the top data, which a following in-place Scale/ReLU changes."""
    x = RNG.normal(size=(4, 3, 2, 2))
    dy = RNG.normal(size=x.shape)
    ref, rb, rt = make_layer("BatchNorm", {}, [x], phase=phase)
    set_stats(ref, np.ones(3), np.full(3, 2.0), 1.0)
    (y,) = forward(ref, rb, rt)
    (dx,), _ = backward(ref, rb, rt, [dy])
    layer, bottom, _ = make_layer("BatchNorm", {}, [x], phase=phase)
    set_stats(layer, np.ones(3), np.full(3, 2.0), 1.0)
    layer.reshape(bottom, bottom)        # as the Net does before every forward
    layer.forward(bottom, bottom)
    np.testing.assert_allclose(bottom[0].data, y, rtol=1e-12)
    bottom[0].data[...] = 123.0          # what a later in-place layer may do
    bottom[0].diff[...] = dy
    layer.backward(bottom, [True], bottom)
    np.testing.assert_allclose(bottom[0].diff, dx, rtol=1e-10, atol=1e-12)


def net_from(tmp_path, text):
    path = tmp_path / "net.yaml"
    path.write_text(text)
    return Net(path)


def test_batch_norm_params_never_learn_and_lr_mult_is_refused(tmp_path):
    text = textwrap.dedent("""\
        layers:
          - {name: data, type: Input, top: x, shape: [4, 3, 2, 2]}
          - {name: bn, type: BatchNorm, bottom: x, top: x%s}
        """)
    net = net_from(tmp_path, text % "")
    lr = {p.key: p.lr_mult for p in net.learnable_params()}
    assert lr == {"bn/0": 0.0, "bn/1": 0.0, "bn/2": 0.0}
    with pytest.raises(ConfigError, match="cannot be learned.*lr_mult 0"):
        net_from(tmp_path, text % ", param: [{lr_mult: 0}, {lr_mult: 1}]")


def test_batch_norm_rejects_channel_change():
    layer, bottom, top = make_layer("BatchNorm", {}, [np.zeros((2, 3, 4))])
    bottom[0].reshape((2, 5, 4))
    with pytest.raises(ShapeError, match=r"bottom0.*\[2, 5, 4\].*3 channels"):
        layer.reshape(bottom, top)
    with pytest.raises(ShapeError, match="channel axis"):
        make_layer("BatchNorm", {}, [np.zeros(3)])
