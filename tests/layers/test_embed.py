import numpy as np
import pytest

from layerflow.layer import ShapeError

from .harness import DTYPES, backward, check_gradient, forward, make_layer, tol, torch

RNG = np.random.default_rng(0)
IDX = np.array([[3.0, 0, 3], [1, 4, 3]])


@pytest.mark.parametrize("bias", [True, False])
def test_embed_gradient(bias):
    layer, bottom, top = make_layer("Embed", {"num_output": 3, "input_dim": 5, "bias_term": bias,
                                              "bias_filler": {"type": "gaussian"}}, [IDX])
    check_gradient(layer, bottom, top, check_bottom=[])


@pytest.mark.parametrize("dtype", DTYPES)
def test_embed_matches_torch(dtype):
    layer, bottom, top = make_layer("Embed", {"num_output": 4, "input_dim": 5,
                                              "bias_filler": {"type": "gaussian"}},
                                    [IDX.astype(dtype)], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    assert y.shape == (2, 3, 4)
    dy = RNG.normal(size=y.shape).astype(dtype)
    _, (dw, db) = backward(layer, bottom, top, [dy], propagate=[False])
    w = torch.tensor(layer.blobs[0].data, requires_grad=True)
    b = torch.tensor(layer.blobs[1].data, requires_grad=True)
    ty = torch.nn.functional.embedding(torch.tensor(IDX.astype(np.int64)), w) + b
    ty.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), *tol(dtype))
    np.testing.assert_allclose(dw, w.grad.numpy(), *tol(dtype))
    np.testing.assert_allclose(db, b.grad.numpy(), *tol(dtype))


def test_embed_index_out_of_range():
    layer, bottom, top = make_layer("Embed", {"num_output": 2, "input_dim": 5},
                                    [np.array([1.0, 5.0])])
    with pytest.raises(ShapeError, match=r"holds 5.0 at flat position 1.*input_dim = 5"):
        forward(layer, bottom, top)
