"""RNN (Caffe's Elman net with its tanh output layer): torch.nn.RNN (tanh) plus the output
layer in torch, same weights, over 20 steps with continuation resets (torch run segment by
segment from a zero state), outputs and all gradients; the float64 gradient check; Caffe's
blob order."""
import numpy as np
import pytest

from .harness import DTYPES, backward, check_gradient, forward, make_layer, torch

T, N, D, H = 20, 3, 5, 4
RESETS = {0: [0, 7, 8, 15], 1: [0], 2: [0, 1, 2, 19]}


def cont_of(resets, t_steps=T):
    cont = np.ones((t_steps, len(resets)))
    for n, steps in resets.items():
        cont[steps, n] = 0
    return cont


def reference(layer, x, dy):
    w_xh, b_h, w_hh, w_ho, b_o = (torch.tensor(b.data.astype(np.float64), requires_grad=True)
                                  for b in layer.blobs)
    rnn = torch.nn.RNN(D, H, nonlinearity="tanh").double()
    with torch.no_grad():
        rnn.bias_hh_l0.zero_()
    rnn.weight_ih_l0, rnn.bias_ih_l0, rnn.weight_hh_l0 = (torch.nn.Parameter(w_xh),
                                                           torch.nn.Parameter(b_h),
                                                           torch.nn.Parameter(w_hh))
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    outs = torch.zeros(T, N, H, dtype=torch.float64)
    loss = 0
    for n, steps in RESETS.items():
        bounds = sorted(set(steps) | {T})
        for a, b in zip(bounds[:-1], bounds[1:]):
            h, _ = rnn(tx[a:b, n:n + 1])
            o = torch.tanh(h @ w_ho.T + b_o)
            loss = loss + (o * torch.tensor(dy[a:b, n:n + 1].astype(np.float64))).sum()
            outs[a:b, n] = o[:, 0].detach()
    loss.backward()
    grads = [rnn.weight_ih_l0.grad, rnn.bias_ih_l0.grad, rnn.weight_hh_l0.grad,
             w_ho.grad, b_o.grad]
    return outs.numpy(), tx.grad.numpy(), [g.numpy() for g in grads]


def make(dtype, x, cont):
    return make_layer("RNN", {"num_output": H,
                              "weight_filler": {"type": "uniform", "min": -0.6, "max": 0.6},
                              "bias_filler": {"type": "uniform", "min": -0.5, "max": 0.5}},
                      [x, cont], dtype=dtype)


def close(dtype):
    return {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}


@pytest.mark.parametrize("dtype", DTYPES)
def test_rnn_matches_torch_over_20_steps_with_resets(dtype):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(T, N, D)).astype(dtype)
    layer, bottom, top = make(dtype, x, cont_of(RESETS).astype(dtype))
    assert [b.shape for b in layer.blobs] == [(H, D), (H,), (H, H), (H, H), (H,)]
    (y,) = forward(layer, bottom, top)
    dy = rng.normal(size=y.shape).astype(dtype)
    (dx, _), grads = backward(layer, bottom, top, [dy], propagate=[True, False])
    ry, rdx, rgrads = reference(layer, x, dy)
    np.testing.assert_allclose(y, ry, **close(dtype))
    np.testing.assert_allclose(dx, rdx, **close(dtype))
    for g, r in zip(grads, rgrads, strict=True):
        np.testing.assert_allclose(g, r, **close(dtype))


def test_rnn_gradient():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 2, 3))
    layer, bottom, top = make(np.float64, x, cont_of({0: [0, 2], 1: [0]}, 5))
    check_gradient(layer, bottom, top)


def test_rnn_gradient_with_static_input():
    rng = np.random.default_rng(6)
    x, xs = rng.normal(size=(4, 2, 3)), rng.normal(size=(2, 2, 2))
    layer, bottom, top = make_layer("RNN", {
        "num_output": 3, "weight_filler": {"type": "uniform", "min": -0.6, "max": 0.6},
        "bias_filler": {"type": "uniform", "min": -0.5, "max": 0.5}},
        [x, cont_of({0: [0, 1], 1: [0]}, 4), xs])
    assert [b.shape for b in layer.blobs] == [(3, 3), (3,), (3, 4), (3, 3), (3, 3), (3,)]
    check_gradient(layer, bottom, top)


def test_rnn_gradient_with_exposed_state_and_static_input():
    rng = np.random.default_rng(9)
    x, xs, h0 = rng.normal(size=(4, 2, 3)), rng.normal(size=(2, 2)), rng.normal(size=(1, 2, 3))
    layer, bottom, top = make_layer("RNN", {
        "num_output": 3, "expose_hidden": True,
        "weight_filler": {"type": "uniform", "min": -0.6, "max": 0.6},
        "bias_filler": {"type": "uniform", "min": -0.5, "max": 0.5}},
        [x, cont_of({0: [1], 1: []}, 4), xs, h0], num_top=2)
    assert top[1].shape == (1, 2, 3)
    (o, h_t) = forward(layer, bottom, top)
    np.testing.assert_array_equal(h_t[0], layer.hs[-1])
    check_gradient(layer, bottom, top)
