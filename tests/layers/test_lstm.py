"""LSTM: torch.nn.LSTM with the same weights (Caffe's gate order i, f, o, g mapped to
torch's i, f, g, o) over 20 steps with sequence-continuation resets (torch run segment by
segment from a zero state), outputs and all gradients; the state carried to the next batch;
the float64 gradient check; Caffe's blob order and shapes."""
import numpy as np
import pytest

from layerflow import ConfigError, Net, ShapeError

from .harness import DTYPES, backward, check_gradient, forward, make_layer, torch

T, N, D, H = 20, 3, 5, 4
RESETS = {0: [0, 7, 8, 15], 1: [0], 2: [0, 1, 2, 19]}      # steps where cont = 0, per stream


def cont_of(resets, t_steps=T):
    cont = np.ones((t_steps, len(resets)))
    for n, steps in resets.items():
        cont[steps, n] = 0
    return cont


def torch_lstm(layer, dtype):
    w_xc, b_c, w_hc = (b.data.astype(np.float64) for b in layer.blobs)
    order = np.r_[0:H, H:2 * H, 3 * H:4 * H, 2 * H:3 * H]      # i f o g -> i f g o
    lstm = torch.nn.LSTM(D, H).double()
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.tensor(w_xc[order]))
        lstm.weight_hh_l0.copy_(torch.tensor(w_hc[order]))
        lstm.bias_ih_l0.copy_(torch.tensor(b_c[order]))
        lstm.bias_hh_l0.zero_()
    return lstm, order


def segments(steps, t_steps=T):
    bounds = sorted(set(steps) | {t_steps})
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def reference(layer, x, dy, dtype):
    """Torch outputs, dx and Caffe-ordered weight grads: each stream's segments from zero."""
    lstm, order = torch_lstm(layer, dtype)
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    outs = torch.zeros(T, N, H, dtype=torch.float64)
    pieces = []
    for n, steps in RESETS.items():
        for a, b in segments(steps):
            y, _ = lstm(tx[a:b, n:n + 1])
            pieces.append(((a, b, n), y))
    loss = sum((y * torch.tensor(dy[a:b, n:n + 1].astype(np.float64))).sum()
               for (a, b, n), y in pieces)
    loss.backward()
    for (a, b, n), y in pieces:
        outs[a:b, n] = y[:, 0].detach()
    inverse = np.argsort(order)
    grads = [lstm.weight_ih_l0.grad.numpy()[inverse], lstm.bias_ih_l0.grad.numpy()[inverse],
             lstm.weight_hh_l0.grad.numpy()[inverse]]
    return outs.numpy(), tx.grad.numpy(), grads


def make(dtype, x, cont, **params):
    params = {"num_output": H, "weight_filler": {"type": "uniform", "min": -0.5, "max": 0.5},
              "bias_filler": {"type": "uniform", "min": -0.5, "max": 0.5}, **params}
    return make_layer("LSTM", params, [x, cont], dtype=dtype)


def close(dtype):
    return {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_matches_torch_over_20_steps_with_resets(dtype):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(T, N, D)).astype(dtype)
    layer, bottom, top = make(dtype, x, cont_of(RESETS).astype(dtype))
    (y,) = forward(layer, bottom, top)
    dy = rng.normal(size=y.shape).astype(dtype)
    (dx, dcont), grads = backward(layer, bottom, top, [dy], propagate=[True, False])
    ry, rdx, rgrads = reference(layer, x, dy, dtype)
    np.testing.assert_allclose(y, ry, **close(dtype))
    np.testing.assert_allclose(dx, rdx, **close(dtype))
    for g, r in zip(grads, rgrads, strict=True):
        np.testing.assert_allclose(g, r, **close(dtype))


def test_state_carries_over_to_the_next_batch_unless_cont_is_zero():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2 * T, 1, D))
    whole, b1, t1 = make(np.float64, x, cont_of({0: [0]}, 2 * T))
    (y_whole,) = forward(whole, b1, t1)
    half, b2, t2 = make(np.float64, x[:T], cont_of({0: [0]}))
    (first,) = forward(half, b2, t2)
    b2[0].data[...] = x[T:]
    b2[1].data[...] = 1                                   # continue the sequence
    (second,) = forward(half, b2, t2)
    np.testing.assert_allclose(np.concatenate([first, second]), y_whole, rtol=1e-12)
    b2[1].data[0] = 0                                     # a new sequence: fresh state
    (fresh,) = forward(half, b2, t2)
    other, b3, t3 = make(np.float64, x[T:], cont_of({0: [0]}))
    (ref,) = forward(other, b3, t3)
    np.testing.assert_allclose(fresh, ref, rtol=1e-12)


def test_lstm_gradient():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(6, 2, 3, 2))                      # trailing axes flatten: D = 6
    cont = cont_of({0: [0, 3], 1: [0]}, 6)
    layer, bottom, top = make_layer("LSTM", {
        "num_output": 3, "weight_filler": {"type": "uniform", "min": -0.6, "max": 0.6},
        "bias_filler": {"type": "uniform", "min": -0.5, "max": 0.5}}, [x, cont])
    check_gradient(layer, bottom, top)


def test_blobs_in_caffes_order_and_bad_shapes():
    x, cont = np.zeros((4, 2, 5)), np.ones((4, 2))
    layer = make(np.float64, x, cont)[0]
    assert [b.shape for b in layer.blobs] == [(4 * H, D), (4 * H,), (4 * H, H)]
    assert not layer.can_backprop(1)
    with pytest.raises(ShapeError, match=r"must have shape \(T, N\) = \[4, 2\], got \[4, 3\]"):
        make(np.float64, x, np.ones((4, 3)))
    with pytest.raises(ShapeError, match="must be \\(T, N, ...\\)"):
        make(np.float64, np.zeros((4, 2)), cont)


LSTM_NET = """
force_backward: true
layers:
  - {name: in, type: Input, top: [x, cont, target], shape: [[5, 2, 3], [5, 2], [5, 2, 4]]}
  - {name: lstm, type: LSTM, bottom: [x, cont], top: h, num_output: 4,
     weight_filler: {type: uniform, min: -0.1, max: 0.1}}
  - {name: loss, type: EuclideanLoss, bottom: [h, target], top: loss}
"""


def test_lstm_in_a_net_and_from_a_caffe_prototxt():
    from layerflow.config import load_yaml_text
    from layerflow.config.caffe_import import import_caffe_text
    net = Net(load_yaml_text(LSTM_NET), "train", seed=0)
    net.blobs["x"].data[...] = np.random.default_rng(0).normal(size=(5, 2, 3))
    net.blobs["cont"].data[...] = 1
    net.blobs["cont"].data[0] = 0
    assert np.isfinite(net.forward_backward())
    assert net.blobs["h"].shape == (5, 2, 4) and np.abs(net.params["lstm"][2].diff).sum() > 0
    text = ('input: "x" input_shape { dim: 5 dim: 2 dim: 3 }\n'
            'input: "cont" input_shape { dim: 5 dim: 2 }\n'
            'layer { name: "lstm1" type: "LSTM" bottom: "x" bottom: "cont" top: "h" '
            'recurrent_param { num_output: 7 weight_filler { type: "uniform" min: -0.08 '
            'max: 0.08 } } }\n')
    result = import_caffe_text(text)
    assert not result.problems, result.problems
    net = Net(load_yaml_text(result.to_yaml()), "test")
    assert net.blobs["h"].shape == (5, 2, 7)
    with pytest.raises(ConfigError, match="with expose_hidden: True takes bottoms x, "
                                          "cont\\[, x_static\\], h_0, c_0 and tops out, "
                                          "h_T, c_T"):
        Net(load_yaml_text(LSTM_NET.replace("num_output: 4,", "num_output: 4, "
                                            "expose_hidden: true,")), "train")


DS = 3


def test_static_input_is_a_per_stream_input_at_every_step():
    """With x_static (N, Ds), the LSTM equals one whose input at every step is
    [x_t, x_static] with the weights [W_xc, W_xc_static] side by side."""
    rng = np.random.default_rng(4)
    x, xs = rng.normal(size=(T, N, D)), rng.normal(size=(N, DS))
    cont = cont_of(RESETS)
    layer, bottom, top = make_layer("LSTM", {
        "num_output": H, "weight_filler": {"type": "uniform", "min": -0.5, "max": 0.5},
        "bias_filler": {"type": "uniform", "min": -0.5, "max": 0.5}}, [x, cont, xs])
    assert [b.shape for b in layer.blobs] == [(4 * H, D), (4 * H,), (4 * H, DS), (4 * H, H)]
    (y,) = forward(layer, bottom, top)
    dy = rng.normal(size=y.shape)
    (dx, _, dxs), grads = backward(layer, bottom, top, [dy])
    wide = np.concatenate([x, np.broadcast_to(xs, (T, N, DS))], axis=2)
    plain, b2, t2 = make_layer("LSTM", {"num_output": H}, [wide, cont])
    plain.blobs[0].data[...] = np.concatenate([layer.blobs[0].data, layer.blobs[2].data], 1)
    plain.blobs[1].data[...] = layer.blobs[1].data
    plain.blobs[2].data[...] = layer.blobs[3].data
    (ref,) = forward(plain, b2, t2)
    (rdx, _), rgrads = backward(plain, b2, t2, [dy])
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx, rdx[..., :D], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dxs, rdx[..., D:].sum(0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads[0], rgrads[0][:, :D], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads[2], rgrads[0][:, D:], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads[3], rgrads[2], rtol=1e-10, atol=1e-12)


def test_lstm_gradient_with_static_input():
    rng = np.random.default_rng(5)
    x, xs = rng.normal(size=(4, 2, 3)), rng.normal(size=(2, 2))
    layer, bottom, top = make_layer("LSTM", {
        "num_output": 2, "weight_filler": {"type": "uniform", "min": -0.6, "max": 0.6},
        "bias_filler": {"type": "uniform", "min": -0.5, "max": 0.5}},
        [x, cont_of({0: [0, 2], 1: [0]}, 4), xs])
    check_gradient(layer, bottom, top)


def test_expose_hidden_takes_and_gives_the_state_as_torch_does():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(T, N, D))
    h0, c0 = rng.normal(size=(1, N, H)), rng.normal(size=(1, N, H))
    cont = np.ones((T, N))                               # one sequence per stream
    layer, bottom, top = make_layer("LSTM", {
        "num_output": H, "expose_hidden": True,
        "weight_filler": {"type": "uniform", "min": -0.5, "max": 0.5},
        "bias_filler": {"type": "uniform", "min": -0.5, "max": 0.5}},
        [x, cont, h0, c0], num_top=3)
    y, h_t, c_t = forward(layer, bottom, top)
    assert h_t.shape == c_t.shape == (1, N, H)
    dy, dh, dc = (rng.normal(size=a.shape) for a in (y, h_t, c_t))
    (dx, _, dh0, dc0), grads = backward(layer, bottom, top, [dy, dh, dc])
    lstm, order = torch_lstm(layer, np.float64)
    tx, th0, tc0 = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    ty, (th, tc) = lstm(tx, (th0, tc0))
    loss = (ty * torch.tensor(dy)).sum() + (th * torch.tensor(dh)).sum() \
        + (tc * torch.tensor(dc)).sum()
    loss.backward()
    for mine, theirs in ((y, ty), (h_t, th), (c_t, tc), (dx, tx.grad), (dh0, th0.grad),
                         (dc0, tc0.grad)):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads[2], lstm.weight_hh_l0.grad.numpy()[np.argsort(order)],
                               rtol=1e-10, atol=1e-12)
    forward(layer, bottom, top)                          # no carried state: same again
    np.testing.assert_array_equal(top[0].data, y)


def test_lstm_gradient_with_exposed_state():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(4, 2, 3))
    cont = cont_of({0: [2], 1: []}, 4)
    layer, bottom, top = make_layer("LSTM", {
        "num_output": 2, "expose_hidden": True,
        "weight_filler": {"type": "uniform", "min": -0.6, "max": 0.6}},
        [x, cont, rng.normal(size=(1, 2, 2)), rng.normal(size=(1, 2, 2))], num_top=3)
    check_gradient(layer, bottom, top)
