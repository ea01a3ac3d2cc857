"""Pooling against a reference built by explicit padding, so that Caffe's rounding (ceil,
last window starting inside input + pad) and AVE's divisor (the window clipped to the
padded input) are checked independently of torch's ceil_mode rules."""
import math

import numpy as np
import pytest

from layerflow import ConfigError, ShapeError

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, torch

F = torch.nn.functional


def caffe_out(size, k, s, p, other_pad, ceil=True):
    """pooling_layer.cpp: the drop rule runs for both axes when pad_h || pad_w."""
    out = (math.ceil if ceil else math.floor)((size + 2 * p - k) / s) + 1
    if (p or other_pad) and (out - 1) * s >= size + p:
        out -= 1
    return out


def reference(x, pool, k, s, p, ceil=True):
    """(y, tx) with y from torch on an explicitly padded input covering exactly Caffe's
    windows: -inf padding for MAX, zeros and a per-window divisor for AVE."""
    (kh, kw), (sh, sw), (ph, pw) = k, s, p
    n, c, h, w = x.shape
    oh, ow = caffe_out(h, kh, sh, ph, pw, ceil), caffe_out(w, kw, sw, pw, ph, ceil)
    right_h, right_w = (oh - 1) * sh + kh - ph - h, (ow - 1) * sw + kw - pw - w
    tx = to_torch(x)
    xt = tx[:, :, :h + min(right_h, 0), :w + min(right_w, 0)]
    pads = (pw, max(right_w, 0), ph, max(right_h, 0))
    if pool == "MAX":
        y = F.max_pool2d(F.pad(xt, pads, value=-math.inf), (kh, kw), (sh, sw))
    else:
        sums = F.avg_pool2d(F.pad(xt, pads, value=0.0), (kh, kw), (sh, sw)) * (kh * kw)
        hs = np.arange(oh) * sh - ph
        ws = np.arange(ow) * sw - pw
        size_h = np.minimum(hs + kh, h + ph) - hs
        size_w = np.minimum(ws + kw, w + pw) - ws
        y = sums / torch.tensor(np.outer(size_h, size_w).astype(x.dtype))
    assert y.shape[2:] == (oh, ow)
    return y, tx


CASES = [  # pool, kernel, stride, pad, input shape
    ("MAX", (2, 2), (2, 2), (0, 0), (2, 3, 7, 7)),       # ceil: last window runs off
    ("AVE", (2, 2), (2, 2), (0, 0), (2, 3, 7, 7)),
    ("MAX", (3, 3), (2, 2), (0, 0), (1, 2, 8, 8)),       # cifar10-quick's 3/2
    ("AVE", (3, 3), (2, 2), (0, 0), (1, 2, 8, 8)),
    ("MAX", (3, 3), (2, 2), (1, 1), (2, 2, 7, 9)),
    ("AVE", (3, 3), (2, 2), (1, 1), (2, 2, 7, 9)),
    ("AVE", (3, 3), (3, 3), (2, 2), (1, 2, 5, 6)),       # the pad rule drops a window
    ("MAX", (3, 3), (3, 3), (2, 2), (1, 2, 5, 6)),
    ("MAX", (3, 2), (2, 1), (1, 0), (1, 2, 6, 5)),
    ("AVE", (2, 3), (1, 2), (1, 1), (1, 1, 4, 6)),
    ("MAX", (3, 3), (2, 2), (1, 1), (2, 3, 33, 31)),     # many vector blocks, ragged last
    ("AVE", (3, 3), (2, 2), (1, 1), (2, 3, 33, 31)),
    ("AVE", (2, 2), (3, 3), (0, 0), (1, 2, 9, 8)),       # pixels no window covers
]


def _params(pool, k, s, p):
    return {"pool": pool, "kernel_h": k[0], "kernel_w": k[1], "stride": list(s), "pad": list(p)}


def distinct(shape, dtype, seed=0):
    """Values at least 0.05 apart, so that no max has a tie within a gradient step."""
    rng = np.random.default_rng(seed)
    return (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.05 - 1.0).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pool,k,s,p,shape", CASES)
def test_pooling_matches_padded_reference(pool, k, s, p, shape, dtype):
    x = distinct(shape, dtype)
    layer, bottom, top = make_layer("Pooling", _params(pool, k, s, p), [x], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    dy = np.random.default_rng(1).normal(size=y.shape).astype(dtype)
    (dx,), _ = backward(layer, bottom, top, [dy])
    ry, tx = reference(x, pool, k, s, p)
    ry.backward(torch.tensor(dy))
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-13}
    np.testing.assert_allclose(y, ry.detach().numpy(), **tol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), **tol)


@pytest.mark.parametrize("pool", ["MAX", "AVE"])
def test_floor_round_mode(pool):
    x = distinct((1, 2, 7, 7), np.float64)
    layer, bottom, top = make_layer("Pooling", dict(_params(pool, (2, 2), (2, 2), (0, 0)),
                                                    round_mode="FLOOR"), [x])
    (y,) = forward(layer, bottom, top)
    ry, _ = reference(x, pool, (2, 2), (2, 2), (0, 0), ceil=False)
    assert y.shape == (1, 2, 3, 3)
    np.testing.assert_allclose(y, ry.detach().numpy())


@pytest.mark.parametrize("pool", ["MAX", "AVE"])
def test_global_pooling(pool):
    x = distinct((2, 3, 5, 4), np.float64)
    layer, bottom, top = make_layer("Pooling", {"pool": pool, "global_pooling": True}, [x])
    (y,) = forward(layer, bottom, top)
    want = x.max(axis=(2, 3)) if pool == "MAX" else x.mean(axis=(2, 3))
    np.testing.assert_allclose(y.reshape(2, 3), want)
    check_gradient(*make_layer("Pooling", {"pool": pool, "global_pooling": True}, [x]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1024, 7, 7), (3, 5, 1, 1), (2, 3, 13, 11)])
def test_global_average_pooling_matches_torch(shape, dtype):
    """Global AVE pooling's own row-sum kernels (MobileNet's 1024 planes of 7x7) against
    PyTorch's adaptive_avg_pool2d, forward and backward."""
    x = np.random.default_rng(4).standard_normal(shape).astype(dtype)
    layer, bottom, top = make_layer("Pooling", {"pool": "AVE", "global_pooling": True}, [x])
    (y,) = forward(layer, bottom, top)
    dy = np.random.default_rng(5).standard_normal(y.shape).astype(dtype)
    (dx,), _ = backward(layer, bottom, top, [dy])
    tx = to_torch(x)
    ty = torch.nn.functional.adaptive_avg_pool2d(tx, 1)
    ty.backward(to_torch(dy, grad=False))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("pool,case", [("MAX", 4), ("AVE", 4), ("AVE", 6), ("MAX", 8)])
def test_pooling_gradient(pool, case):
    _, k, s, p, shape = CASES[case]
    x = distinct(shape, np.float64, seed=2)
    layer, bottom, top = make_layer("Pooling", _params(pool, k, s, p), [x])
    check_gradient(layer, bottom, top)


def test_max_mask_top():
    x = distinct((2, 2, 5, 5), np.float32)
    layer, bottom, top = make_layer("Pooling", _params("MAX", (2, 2), (2, 2), (0, 0)), [x],
                                    num_top=2, dtype=np.float32)
    y, mask = forward(layer, bottom, top)
    assert mask.shape == y.shape == (2, 2, 3, 3)
    flat = x.reshape(2, 2, -1)
    picked = np.take_along_axis(flat, mask.reshape(2, 2, -1).astype(np.int64), axis=2)
    np.testing.assert_array_equal(picked.reshape(y.shape), y)


def test_kernel_larger_than_padded_input_names_layer_and_shape():
    with pytest.raises(ShapeError, match=r"'pooling'.*kernel 5x5.*\[1, 1, 3, 3\]"):
        make_layer("Pooling", {"kernel_size": 5, "pad": 0}, [np.zeros((1, 1, 3, 3))])


def test_ave_has_no_mask_top():
    with pytest.raises(ShapeError, match="only MAX pooling"):
        make_layer("Pooling", {"pool": "AVE", "kernel_size": 2}, [np.zeros((1, 1, 4, 4))],
                   num_top=2)


@pytest.mark.parametrize("params,message", [
    ({"kernel_size": 2, "pad": 2}, "smaller than the kernel"),
    ({}, "missing 'kernel_size'"),
    ({"global_pooling": True, "kernel_size": 2}, "global_pooling"),
    ({"kernel_size": 2, "pool": "STOCHASTIC"}, "must be one of"),
])
def test_bad_params_are_config_errors(params, message):
    with pytest.raises(ConfigError, match=message):
        make_layer("Pooling", params, [np.zeros((1, 1, 4, 4))])


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_ties_and_infinities_pick_the_first_in_image_element(dtype):
    """Windows of equal values (and of -inf) keep their first in-image element in
    row-major order, as Caffe's scan does, never a padding position."""
    x = np.zeros((1, 3, 20, 19), dtype)
    x[0, 1] = -np.inf
    x[0, 2, ::2] = 1.0                     # ties between rows
    layer, bottom, top = make_layer("Pooling", _params("MAX", (3, 3), (2, 2), (1, 1)), [x],
                                    dtype=dtype)
    forward(layer, bottom, top)
    mask = layer._mask
    oh, ow = mask.shape[2:]
    for c in range(3):
        for i in range(oh):
            for j in range(ow):
                hs, ws = max(2 * i - 1, 0), max(2 * j - 1, 0)
                he, we = min(2 * i + 2, 20), min(2 * j + 2, 19)
                window = x[0, c, hs:he, ws:we]
                a, b = np.unravel_index(np.argmax(window == window.max()), window.shape)
                assert mask[0, c, i, j] == (hs + a) * 19 + ws + b, (c, i, j)


def test_the_last_window_rule_covers_both_axes_when_one_pad_is_set():
    """Caffe drops a last window starting past input + pad on both axes when pad_h or
    pad_w is nonzero: 3x6, kernel 2x1, stride 1x3, pad 1x0 gives 4x2 (not 4x3)."""
    layer, bottom, top = make_layer("Pooling", _params("MAX", (2, 1), (1, 3), (1, 0)),
                                    [np.zeros((1, 1, 3, 6))])
    assert top[0].shape == (1, 1, 4, 2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [6, 33])          # 3x3 outputs, and 12x12 (vectors)
def test_max_windows_past_the_image_give_caffes_lowest_and_no_gradient(dtype, size):
    """Ceil rounding without padding can start the last window past the image: kernel 1,
    stride 3 on 6 pixels gives windows at 0, 3 and 6 (empty), on 33 at 0 .. 30 and 33.
    Caffe gives those -FLT_MAX and mask -1; no gradient may flow from them (an index of -1
    must not write before the plane)."""
    x = np.random.default_rng(0).normal(size=(2, 3, size, size)).astype(dtype)
    layer, bottom, top = make_layer("Pooling", _params("MAX", (1, 1), (3, 3), (0, 0)), [x],
                                    dtype=dtype)
    (y,) = forward(layer, bottom, top)
    n = y.shape[2]
    assert (n - 1) * 3 >= size                          # the last row and column are empty
    assert (y[:, :, -1, :] == np.float32(-3.4028235e38)).all()
    assert (y[:, :, :, -1] == np.float32(-3.4028235e38)).all()
    assert (layer._mask[:, :, -1, :] == -1).all() and (layer._mask[:, :, :, -1] == -1).all()
    np.testing.assert_array_equal(y[:, :, :-1, :-1], x[:, :, ::3, ::3][:, :, :n - 1, :n - 1])
    dy = np.ones(y.shape, dtype)
    (dx,), _ = backward(layer, bottom, top, [dy])
    assert dx.sum() == (n - 1) ** 2 * 6                 # the empty windows route nothing
