import numpy as np
import pytest

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch

MODES = ["FULL", "VALID", "BATCH_SIZE", "NONE"]


def inputs(shape=(3, 2, 4), ignore=None):
    rng = np.random.default_rng(0)
    x = rng.normal(scale=2, size=shape)
    t = rng.uniform(0, 1, size=shape)
    t.reshape(-1)[::3] = rng.integers(0, 2, size=t.reshape(-1)[::3].size)
    if ignore is not None:
        t.reshape(-1)[1::4] = ignore
    return x, t


def normalizer(mode, t, ignore):
    valid = t.size if ignore is None else int(np.sum(t.astype(int) != ignore))
    return max(1.0, {"FULL": t.size, "VALID": valid, "BATCH_SIZE": t.shape[0], "NONE": 1}[mode])


@pytest.mark.parametrize("mode", MODES)
def test_sigmoid_ce_gradient(mode):
    x, t = inputs(ignore=-1)
    layer, bottom, top = make_layer("SigmoidCrossEntropyLoss",
                                    {"normalization": mode, "ignore_label": -1}, [x, t])
    check_gradient(layer, bottom, top, check_bottom=[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("ignore", [None, -1])
def test_sigmoid_ce_matches_torch(dtype, mode, ignore):
    x, t = inputs(ignore=ignore)
    x.reshape(-1)[:2] = [-200, 200]                # exp(200) overflows float32: must not matter
    x, t = x.astype(dtype), t.astype(dtype)
    params = {"normalization": mode}
    if ignore is not None:
        params["ignore_label"] = ignore
    layer, bottom, top = make_layer("SigmoidCrossEntropyLoss", params, [x, t], dtype=dtype)
    (loss,) = forward(layer, bottom, top)
    (dx, dt), _ = backward(layer, bottom, top, [np.array(2.0)])
    tx = to_torch(x)
    keep = torch.tensor((t.astype(int) != ignore) if ignore is not None else np.ones_like(t))
    tloss = torch.nn.functional.binary_cross_entropy_with_logits(
        tx, torch.tensor(t) * keep, weight=keep.to(tx.dtype), reduction="sum")
    tloss = tloss / normalizer(mode, t, ignore)
    (2 * tloss).backward()
    assert np.isfinite(loss)
    np.testing.assert_allclose(loss, tloss.item(), rtol=10 * tol(dtype)[0])
    np.testing.assert_allclose(dx, tx.grad.numpy(), *tol(dtype))
    assert not dt.any(), "targets get no gradient"


def test_sigmoid_ce_default_and_legacy_normalization():
    x, t = inputs(ignore=-1)
    def loss(params):
        layer, bottom, top = make_layer("SigmoidCrossEntropyLoss", params, [x, t])
        return forward(layer, bottom, top)[0]
    none = loss({"normalization": "NONE", "ignore_label": -1})
    valid = normalizer("VALID", t, -1)
    np.testing.assert_allclose(loss({"ignore_label": -1}), none / 3)          # BATCH_SIZE, as Caffe
    np.testing.assert_allclose(loss({"ignore_label": -1, "normalize": True}), none / valid)
    np.testing.assert_allclose(loss({"ignore_label": -1, "normalize": False}), none / 3)
    # `normalization` wins over `normalize` when both are given (Caffe's rule)
    np.testing.assert_allclose(loss({"ignore_label": -1, "normalize": True,
                                     "normalization": "NONE"}), none)


def test_sigmoid_ce_count_mismatch_names_blobs():
    from layerflow.layer import ShapeError
    with pytest.raises(ShapeError, match=r"'bottom0' \[2, 3\] and targets 'bottom1' \[2, 4\]"):
        make_layer("SigmoidCrossEntropyLoss", {}, [np.zeros((2, 3)), np.zeros((2, 4))])
