import numpy as np
import pytest

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch


def inputs(n=6, c=3, dtype=np.float64):
    rng = np.random.default_rng(0)
    a = rng.normal(scale=0.6, size=(n, c, 1, 1))
    b = rng.normal(scale=0.6, size=(n, c, 1, 1))
    sim = (rng.uniform(size=n) > 0.5).astype(float)
    sim[:2] = [0, 1]
    return a.astype(dtype), b.astype(dtype), sim.astype(dtype)


def caffe_reference(a, b, sim, margin, legacy, lw=1.0):
    """Caffe's ContrastiveLoss, transcribed: loss, d loss / d a."""
    n = a.shape[0]
    d = (a - b).reshape(n, -1).astype(np.float64)
    dist_sq = (d * d).sum(1)
    dist = np.sqrt(dist_sq)
    if legacy:
        dis_loss, dis_grad = np.maximum(margin - dist_sq, 0), -(margin - dist_sq > 0).astype(float)[:, None] * d
    else:
        m = np.maximum(margin - dist, 0)
        dis_loss, dis_grad = m * m, -(m / (dist + 1e-4))[:, None] * d
    s = sim.astype(int) != 0
    loss = np.where(s, dist_sq, dis_loss).sum() / (2 * n)
    grad = lw / n * np.where(s[:, None], d, dis_grad)
    return loss, grad.reshape(a.shape)


@pytest.mark.parametrize("legacy", [False, True])
def test_contrastive_gradient(legacy):
    a, b, sim = inputs()
    layer, bottom, top = make_layer("ContrastiveLoss", {"margin": 1.5, "legacy_version": legacy},
                                    [a, b, sim])
    # Caffe's 1e-4 in the dissimilar gradient's denominator is a relative error of about
    # 1e-4 / D against the exact derivative; the legacy form is exact.
    check_gradient(layer, bottom, top, threshold=1e-3 if not legacy else 1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("legacy", [False, True])
def test_contrastive_matches_caffe_formula_and_torch(dtype, legacy):
    a, b, sim = inputs(dtype=dtype)
    layer, bottom, top = make_layer("ContrastiveLoss", {"margin": 1.5, "legacy_version": legacy},
                                    [a, b, sim], dtype=dtype)
    (loss,) = forward(layer, bottom, top)
    (da, db, dsim), _ = backward(layer, bottom, top, [np.array(2.0)])
    ref_loss, ref_grad = caffe_reference(a, b, sim, 1.5, legacy, lw=2.0)
    np.testing.assert_allclose(loss, ref_loss, rtol=10 * tol(dtype)[0])
    np.testing.assert_allclose(da, ref_grad, *tol(dtype))
    np.testing.assert_allclose(db, -ref_grad, *tol(dtype))
    assert not dsim.any()
    # the loss itself against torch (torch has no contrastive loss: the formula, autograd)
    ta, tb = to_torch(a), to_torch(b)
    dist_sq = ((ta - tb) ** 2).flatten(1).sum(1)
    tsim = torch.tensor(sim) != 0
    dis = torch.clamp(1.5 - dist_sq, min=0) if legacy else \
        torch.clamp(1.5 - dist_sq.sqrt(), min=0) ** 2
    tloss = torch.where(tsim, dist_sq, dis).sum() / (2 * a.shape[0])
    (2 * tloss).backward()
    np.testing.assert_allclose(loss, tloss.item(), rtol=10 * tol(dtype)[0])
    exact = 1e-3 if not legacy else tol(dtype)[0]            # Caffe's epsilon, see above
    np.testing.assert_allclose(da, ta.grad.numpy(), rtol=exact, atol=tol(dtype)[1])


def test_contrastive_shapes_are_checked():
    from layerflow.layer import ShapeError
    a, b, sim = inputs()
    with pytest.raises(ShapeError, match=r"similarity blob 'bottom2' of shape \[5\]"):
        make_layer("ContrastiveLoss", {}, [a, b, sim[:5]])
    with pytest.raises(ShapeError, match=r"must both be \(N, C\)"):
        make_layer("ContrastiveLoss", {}, [a, b[:, :2], sim])
