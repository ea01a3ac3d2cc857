import numpy as np
import pytest

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch

RNG = np.random.default_rng(0)


def scores_labels(shape=(4, 5, 3), dtype=np.float64, ignore=None):
    x = RNG.normal(size=shape).astype(dtype)
    labels = RNG.integers(0, shape[1], size=(shape[0],) + shape[2:]).astype(dtype)
    if ignore is not None:
        labels.reshape(-1)[::3] = ignore
    return x, labels


@pytest.mark.parametrize("norm", ["FULL", "VALID", "BATCH_SIZE", "NONE"])
def test_softmax_loss_gradient(norm):
    x, labels = scores_labels(ignore=-1)
    layer, bottom, top = make_layer("SoftmaxWithLoss", {"normalization": norm, "ignore_label": -1},
                                    [x, labels])
    check_gradient(layer, bottom, top, check_bottom=[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm,reduction", [("VALID", "mean"), ("NONE", "sum")])
def test_softmax_loss_matches_torch(dtype, norm, reduction):
    x, labels = scores_labels(dtype=dtype, ignore=2)
    layer, bottom, top = make_layer("SoftmaxWithLoss", {"normalization": norm, "ignore_label": 2},
                                    [x, labels], num_top=2, dtype=dtype)
    loss, prob = forward(layer, bottom, top)
    (dx, dlabel), _ = backward(layer, bottom, top, [np.array(1.0), np.zeros_like(prob)])
    tx = to_torch(x)
    tl = torch.nn.functional.cross_entropy(tx, torch.tensor(labels).long(), ignore_index=2,
                                           reduction=reduction)
    tl.backward()
    np.testing.assert_allclose(loss, tl.item(), rtol=tol(dtype)[0] * 10)
    np.testing.assert_allclose(prob, torch.softmax(tx, 1).detach().numpy(), *tol(dtype))
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=tol(dtype)[0], atol=10 * tol(dtype)[1])
    assert not dlabel.any(), "labels never receive a gradient"


def test_loss_weight_scales_gradient():
    x, labels = scores_labels(shape=(3, 4))
    layer, bottom, top = make_layer("SoftmaxWithLoss", {}, [x, labels])
    forward(layer, bottom, top)
    (d1, _), _ = backward(layer, bottom, top, [np.array(1.0)])
    (d3, _), _ = backward(layer, bottom, top, [np.array(3.0)])
    np.testing.assert_allclose(d3, 3 * d1)


def test_batch_size_normalization_and_legacy_normalize():
    x, labels = scores_labels(shape=(4, 3, 2))
    full = make_layer("SoftmaxWithLoss", {"normalization": "NONE"}, [x, labels])
    batch = make_layer("SoftmaxWithLoss", {"normalize": False}, [x, labels])
    np.testing.assert_allclose(forward(*batch)[0], forward(*full)[0] / 4)


def test_label_out_of_range_is_a_clear_error():
    x, labels = scores_labels(shape=(2, 3))
    labels[1] = 7
    layer, bottom, top = make_layer("SoftmaxWithLoss", {}, [x, labels])
    with pytest.raises(ValueError, match=r"label 7 at position 1 .*outside \[0, 3\)"):
        forward(layer, bottom, top)


def test_label_count_mismatch_names_blobs():
    from layerflow.layer import ShapeError
    with pytest.raises(ShapeError, match=r"label blob 'bottom1' of shape \[3\] must hold 2"):
        make_layer("SoftmaxWithLoss", {}, [np.zeros((2, 3)), np.zeros(3)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm", ["FULL", "VALID", "BATCH_SIZE", "NONE"])
def test_softmax_loss_every_normalization_with_ignore_on_spatial_scores(dtype, norm):
    """Caffe's normalizers over (N, C, H, W) scores: FULL divides by N*H*W, VALID by the
    positions not ignored, BATCH_SIZE by N, NONE by 1."""
    x, labels = scores_labels(shape=(2, 4, 3, 2), dtype=dtype, ignore=-1)
    layer, bottom, top = make_layer("SoftmaxWithLoss", {"normalization": norm, "ignore_label": -1},
                                    [x, labels], dtype=dtype)
    (loss,) = forward(layer, bottom, top)
    (dx, _), _ = backward(layer, bottom, top, [np.array(1.5)])
    tx = to_torch(x)
    total = torch.nn.functional.cross_entropy(tx, torch.tensor(labels).long(), ignore_index=-1,
                                              reduction="sum")
    valid = int(np.sum(labels != -1))
    z = {"FULL": labels.size, "VALID": valid, "BATCH_SIZE": 2, "NONE": 1}[norm]
    (1.5 * total / z).backward()
    np.testing.assert_allclose(loss, total.item() / z, rtol=10 * tol(dtype)[0])
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=tol(dtype)[0], atol=10 * tol(dtype)[1])
    assert not dx[:, :, 0, 0][0].any(), "an ignored position gets no gradient"


def test_normalization_wins_over_legacy_normalize():
    """Caffe reads `normalize` only when `normalization` is not given."""
    x, labels = scores_labels(shape=(4, 3, 2), ignore=-1)
    def loss(params):
        return forward(*make_layer("SoftmaxWithLoss", dict(params, ignore_label=-1),
                                   [x, labels]))[0]
    none = loss({"normalization": "NONE"})
    valid = np.sum(labels != -1)
    np.testing.assert_allclose(loss({}), none / valid)
    np.testing.assert_allclose(loss({"normalize": True}), none / valid)
    np.testing.assert_allclose(loss({"normalize": False}), none / 4)
    np.testing.assert_allclose(loss({"normalize": False, "normalization": "NONE"}), none)
    np.testing.assert_allclose(loss({"normalize": True, "normalization": "FULL"}),
                               none / labels.size)


def test_all_positions_ignored_gives_zero_loss_and_gradient():
    x, labels = scores_labels(shape=(3, 4))
    labels[:] = 5                                  # out of range, but ignored: no error
    layer, bottom, top = make_layer("SoftmaxWithLoss", {"ignore_label": 5}, [x, labels])
    (loss,) = forward(layer, bottom, top)
    (dx, _), _ = backward(layer, bottom, top, [np.array(1.0)])
    assert loss == 0 and not dx.any()
