import numpy as np
import pytest

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch


def inputs(shape=(3, 8), n_bottoms=2, dtype=np.float64):
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=shape), rng.normal(size=shape)]
    if n_bottoms > 2:
        w_in = rng.uniform(0.5, 2, size=shape)
        w_in.reshape(-1)[::5] = 0                      # Fast R-CNN's 0/1 masks, and more
        arrays.append(w_in)
    if n_bottoms > 3:
        arrays.append(rng.uniform(0, 1.5, size=shape))
    return [a.astype(dtype) for a in arrays]


def reference(ta, tb, arrays, sigma):
    d = ta - tb
    if len(arrays) > 2:
        d = d * torch.tensor(arrays[2])
    e = torch.nn.functional.smooth_l1_loss(d, torch.zeros_like(d), beta=1 / sigma ** 2,
                                           reduction="none")
    if len(arrays) > 3:
        e = e * torch.tensor(arrays[3])
    return e.sum() / ta.shape[0]


@pytest.mark.parametrize("n_bottoms", [2, 3, 4])
@pytest.mark.parametrize("sigma", [1.0, 3.0])
def test_smooth_l1_gradient(n_bottoms, sigma):
    layer, bottom, top = make_layer("SmoothL1Loss", {"sigma": sigma},
                                    inputs((2, 3, 2), n_bottoms))
    check_gradient(layer, bottom, top, check_bottom=[0, 1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_bottoms", [2, 4])
@pytest.mark.parametrize("sigma", [1.0, 3.0])
def test_smooth_l1_matches_torch(dtype, n_bottoms, sigma):
    arrays = inputs(n_bottoms=n_bottoms, dtype=dtype)
    layer, bottom, top = make_layer("SmoothL1Loss", {"sigma": sigma}, arrays, dtype=dtype)
    (loss,) = forward(layer, bottom, top)
    diffs, _ = backward(layer, bottom, top, [np.array(0.7)])
    ta, tb = to_torch(arrays[0]), to_torch(arrays[1])
    tloss = reference(ta, tb, arrays, sigma)
    (0.7 * tloss).backward()
    np.testing.assert_allclose(loss, tloss.item(), rtol=10 * tol(dtype)[0])
    np.testing.assert_allclose(diffs[0], ta.grad.numpy(), *tol(dtype))
    np.testing.assert_allclose(diffs[1], tb.grad.numpy(), *tol(dtype))
    assert not any(d.any() for d in diffs[2:]), "weights get no gradient"


def test_smooth_l1_shape_mismatch_names_blobs():
    from layerflow.layer import ShapeError
    a, b, w = inputs(n_bottoms=3)
    with pytest.raises(ShapeError, match=r"bottom 'bottom2' \[3, 4\] must have the shape of "
                                         r"'bottom0' \[3, 8\]"):
        make_layer("SmoothL1Loss", {}, [a, b, w[:, :4]])
