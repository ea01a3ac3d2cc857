import numpy as np
import pytest

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch


def inputs(n=4, d=5):
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 1, size=(n, d))
    p /= p.sum(axis=1, keepdims=True)
    return p, rng.integers(0, d, size=n).astype(float)


def test_mlogistic_gradient():
    layer, bottom, top = make_layer("MultinomialLogisticLoss", {}, list(inputs()))
    check_gradient(layer, bottom, top, check_bottom=[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_mlogistic_matches_torch_nll(dtype):
    p, labels = inputs()
    p = p.astype(dtype)
    layer, bottom, top = make_layer("MultinomialLogisticLoss", {}, [p, labels.astype(dtype)],
                                    dtype=dtype)
    (loss,) = forward(layer, bottom, top)
    (dp, _), _ = backward(layer, bottom, top, [np.array(1.5)])
    tp = to_torch(p)
    tloss = torch.nn.functional.nll_loss(torch.log(tp), torch.tensor(labels).long())
    (1.5 * tloss).backward()
    np.testing.assert_allclose(loss, tloss.item(), rtol=10 * tol(dtype)[0])
    np.testing.assert_allclose(dp, tp.grad.numpy(), *tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_mlogistic_zero_probability_is_clamped_at_caffe_threshold(dtype):
    p = np.array([[0.0, 1.0], [0.5, 0.5]], dtype)
    layer, bottom, top = make_layer("MultinomialLogisticLoss", {}, [p, np.array([0.0, 1.0])],
                                    dtype=dtype)
    (loss,) = forward(layer, bottom, top)
    (dp, _), _ = backward(layer, bottom, top, [np.array(1.0)])
    np.testing.assert_allclose(loss, (-np.log(dtype(1e-20)) - np.log(0.5)) / 2, rtol=1e-6)
    np.testing.assert_allclose(dp[0, 0], -0.5 / dtype(1e-20), rtol=1e-6)
    assert dp[0, 1] == 0 and dp[1, 0] == 0 and dp[1, 1] == pytest.approx(-1.0)


def test_mlogistic_label_count_mismatch_names_blobs():
    from layerflow.layer import ShapeError
    with pytest.raises(ShapeError, match=r"label blob 'bottom1' of shape \[3\]"):
        make_layer("MultinomialLogisticLoss", {}, [np.ones((2, 3)), np.zeros(3)])
