import numpy as np
import pytest

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch


def inputs(shape=(4, 5)):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape)
    x[np.abs(np.abs(x) - 1) < 0.05] = 0.5        # away from the hinge's corners at +-1
    labels = rng.integers(0, shape[1], size=shape[0]).astype(float)
    return x, labels


def reference(x, labels, norm):
    n = x.shape[0]
    flat = x.reshape(n, -1)
    sign = torch.ones_like(flat)
    sign[torch.arange(n), torch.tensor(labels).long()] = -1
    m = torch.relu(1 + sign * flat)
    return (m if norm == "L1" else m * m).sum() / n


@pytest.mark.parametrize("norm", ["L1", "L2"])
def test_hinge_gradient(norm):
    layer, bottom, top = make_layer("HingeLoss", {"norm": norm}, list(inputs((3, 2, 2, 2))))
    check_gradient(layer, bottom, top, check_bottom=[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm", ["L1", "L2"])
def test_hinge_matches_torch(dtype, norm):
    x, labels = inputs()
    x = x.astype(dtype)
    layer, bottom, top = make_layer("HingeLoss", {"norm": norm}, [x, labels.astype(dtype)],
                                    dtype=dtype)
    (loss,) = forward(layer, bottom, top)
    (dx, dl), _ = backward(layer, bottom, top, [np.array(0.5)])
    tx = to_torch(x)
    tloss = reference(tx, labels, norm)
    (0.5 * tloss).backward()
    np.testing.assert_allclose(loss, tloss.item(), rtol=10 * tol(dtype)[0])
    np.testing.assert_allclose(dx, tx.grad.numpy(), *tol(dtype))
    assert not dl.any()


def test_hinge_label_out_of_range_is_a_clear_error():
    x, labels = inputs()
    labels[2] = 5
    layer, bottom, top = make_layer("HingeLoss", {}, [x, labels])
    with pytest.raises(ValueError, match=r"label 5 at position 2 of 'bottom1' is outside \[0, 5\)$"):
        forward(layer, bottom, top)
