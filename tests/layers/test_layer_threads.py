"""The threaded paths of BatchNorm, Scale, ReLU, Eltwise SUM and Split (issue 14's bench):
each kernel cut into 2, 3 or 5 runs gives what its one-run form gives (sums reordered only:
close; element-wise: equal), on sizes that are not multiples of the lanes or of the parts;
the layers take those paths above PARALLEL_MIN (patched to 0 here) and still pass their
float64 gradient checks; and the Net's Split shares its bottom's data only where no reader
runs in place."""
import numpy as np
import pytest

from layerflow import Net
from layerflow.kernels.cpu import batch_norm as bn
from layerflow.kernels.cpu import eltwise as el
from layerflow.kernels.cpu import relu as rl
from layerflow.kernels.cpu import scale as sc
from layerflow.kernels.cpu import split as sp
from layerflow.runtime import Runtime

from .harness import DTYPES, backward, check_gradient, forward, make_layer

PARTS = [2, 3, 5]
SHAPES = [(7, 3, 37), (3, 5, 1), (2, 4, 2100)]     # odd rows, S = 1, rows over CHUNK


def data(shape, dtype, seed=0):
    return np.random.default_rng(seed).normal(1.5, 2.0, size=shape).astype(dtype)


def close(dtype):
    return {"rtol": 2e-5, "atol": 2e-5} if dtype == np.float32 else {"rtol": 1e-12,
                                                                      "atol": 1e-12}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("parts", PARTS)
def test_batch_norm_kernels_in_parts(parts, shape, dtype):
    x = data(shape, dtype)
    c = shape[1]
    ref_m, ref_v = x.astype(np.float64).mean(axis=(0, 2)), x.astype(np.float64).var(axis=(0, 2))
    mean, var = np.zeros(c), np.zeros(c)
    bn.channel_mean_var_parts(x, mean, var, np.full((parts, 2, c), np.nan))
    np.testing.assert_allclose(mean, ref_m, **close(dtype))
    np.testing.assert_allclose(var, ref_v, **close(dtype))
    inv = 1.0 / np.sqrt(var + 1e-5)
    m_t, inv_t = mean.astype(dtype), inv.astype(dtype)
    y1, s1 = np.empty_like(x), np.empty_like(x)
    bn.normalize_save(x, m_t, inv_t, y1, s1)
    y2, s2 = np.empty_like(x), np.empty_like(x)
    bn.normalize_save(x, m_t, inv_t, y2, s2, parts)
    np.testing.assert_array_equal(y2, y1)
    np.testing.assert_array_equal(s2, s1)
    y3 = x.copy()
    bn.normalize_inplace(y3, m_t, inv_t, parts)
    np.testing.assert_array_equal(y3, y1)
    dy = data(shape, dtype, 1)
    xn = s1.astype(np.float64)
    g = dy.astype(np.float64)
    want = inv[None, :, None] * (g - g.mean(axis=(0, 2), keepdims=True)
                                 - xn * (g * xn).mean(axis=(0, 2), keepdims=True))
    dx = np.empty_like(dy)
    bn.batch_norm_backward_parts(s1, dy, inv, dx, np.zeros((parts, 2, c)))
    np.testing.assert_allclose(dx, want, **close(dtype))
    d = dy.copy()
    bn.batch_norm_backward_inplace_parts(s1, d, inv, np.zeros((parts, 2, c)))
    np.testing.assert_allclose(d, want, **close(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("parts", PARTS)
def test_scale_kernels_in_parts(parts, shape, dtype):
    x, dy = data(shape, dtype), data(shape, dtype, 1)
    s = shape[1]
    a, b = data((s,), dtype, 2), data((s,), dtype, 3)
    want = x * a[None, :, None] + b[None, :, None]
    y = np.empty_like(x)
    sc.scale_forward_parts(x, a, b, y, parts)
    np.testing.assert_array_equal(y, want)
    y, keep = x.copy(), np.empty_like(x)
    sc.scale_forward_inplace_parts(y, a, b, keep, parts)
    np.testing.assert_array_equal(y, want)
    np.testing.assert_array_equal(keep, x)
    x64, g64 = x.astype(np.float64), dy.astype(np.float64)
    want_ds, want_db = (g64 * x64).sum(axis=(0, 2)), g64.sum(axis=(0, 2))
    for inplace in (False, True):
        ds, db = np.ones(s, dtype), np.ones(s, dtype)            # added into
        sums = np.full((parts, 2, s), np.nan)
        if inplace:
            dx = dy.copy()
            sc.scale_backward_inplace_parts(x, dx, a, ds, db, True, sums)
        else:
            dx = np.empty_like(dy)
            sc.scale_backward_parts(x, dy, a, ds, db, dx, True, sums)
        np.testing.assert_array_equal(dx, dy * a[None, :, None])
        np.testing.assert_allclose(ds, 1 + want_ds, rtol=1e-5 if dtype == np.float32 else 1e-12)
        np.testing.assert_allclose(db, 1 + want_db, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                   atol=1e-4 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [5, 16, 1001, 4099])
@pytest.mark.parametrize("parts", PARTS)
def test_element_wise_kernels_in_parts(parts, n, dtype):
    x, g, h = data(n, dtype) - 1.5, data(n, dtype, 1), data(n, dtype, 2)
    slope = dtype(0.1)
    cases = [  # (kernel call writing out, the one-run call)
        (lambda o: rl.relu_forward(x, slope, o, parts), lambda o: rl.relu_forward(x, slope, o)),
        (lambda o: rl.relu_backward(x, g, slope, o, parts),
         lambda o: rl.relu_backward(x, g, slope, o)),
        (lambda o: el.weighted_sum2(g, dtype(2), h, dtype(-1), o, parts),
         lambda o: el.weighted_sum2(g, dtype(2), h, dtype(-1), o)),
        (lambda o: el.scale_into(g, dtype(3), o, parts), lambda o: el.scale_into(g, dtype(3), o)),
        (lambda o: sp.sum_into(g, h, o, parts), lambda o: sp.sum_into(g, h, o)),
        (lambda o: el.scale_into2(g, dtype(2), o, dtype(-1), h2, parts),
         lambda o: (el.scale_into(g, dtype(2), o), el.scale_into(g, dtype(-1), h2_ref))),
    ]
    h2, h2_ref = np.full(n, np.nan, dtype), np.full(n, np.nan, dtype)
    for run, ref in cases:
        got, want = np.full(n, np.nan, dtype), np.full(n, np.nan, dtype)
        run(got)
        ref(want)
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(h2, h2_ref)            # scale_into2's second output
    y = x.copy()
    rl.relu_forward_inplace(y, slope, parts)
    np.testing.assert_array_equal(y, np.where(x > 0, x, x * slope))
    d = g.copy()
    rl.relu_backward_inplace(x, d, slope, parts)
    np.testing.assert_array_equal(d, np.where(x > 0, g, g * slope))


def test_run_bounds_cover_the_array_in_whole_lines():
    for n in (0, 1, 15, 16, 17, 1000, 4099):
        for parts in (1, 2, 3, 7):
            b = [el.run_bounds(n, t, parts) for t in range(parts)]
            assert b[0][0] == 0 and b[-1][1] == n
            assert all(b[t][1] == b[t + 1][0] for t in range(parts - 1))
            assert all(lo % 16 == 0 for lo, _ in b)


@pytest.fixture
def threaded(monkeypatch):
    """Every layer's element-wise pass cut into 3 runs, however small the blob."""
    monkeypatch.setattr(el, "PARALLEL_MIN", 0)
    return Runtime.create(threads=3)


@pytest.mark.parametrize("type_name,params", [
    ("BatchNorm", {}), ("Scale", {"bias_term": True}), ("ReLU", {"negative_slope": 0.1})])
def test_threaded_layers_pass_the_gradient_check_and_run_in_place(threaded, type_name, params):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, 3, 4, 5))
    if type_name == "ReLU":
        x[np.abs(x) < 0.05] = 0.3                     # no kinks within the step
    dy = rng.normal(size=x.shape)
    layer, bottom, top = make_layer(type_name, params, [x], runtime=threaded)
    assert layer._parts == 3
    check_gradient(layer, bottom, top)
    (y,) = forward(layer, bottom, top)
    (dx,), _ = backward(layer, bottom, top, [dy])
    layer, bottom, _ = make_layer(type_name, params, [x], runtime=threaded)
    layer.reshape(bottom, bottom)                     # in place: top is the bottom
    layer.forward(bottom, bottom)
    np.testing.assert_allclose(bottom[0].data, y, rtol=1e-12, atol=1e-12)
    bottom[0].diff[...] = dy
    layer.backward(bottom, [True], bottom)
    np.testing.assert_allclose(bottom[0].diff, dx, rtol=1e-10, atol=1e-12)


def test_threaded_eltwise_and_split(threaded):
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(3, 70)), rng.normal(size=(3, 70))
    layer, bottom, top = make_layer("Eltwise", {"coeff": [2, -1]}, [a, b], runtime=threaded)
    assert layer._parts == 3
    (y,) = forward(layer, bottom, top)
    np.testing.assert_allclose(y, 2 * a - b)
    check_gradient(layer, bottom, top)
    layer, bottom, top = make_layer("Split", {}, [a], num_top=3, runtime=threaded)
    check_gradient(layer, bottom, top)


def test_split_shares_the_bottom_unless_a_reader_runs_in_place():
    x = np.random.default_rng(6).normal(size=(2, 3, 4))
    shared = Net({"force_backward": True, "layers": [
        {"name": "in", "type": "Input", "top": ["x", "t"], "shape": [[2, 3, 4], [2, 3, 4]]},
        {"name": "r", "type": "ReLU", "bottom": "x", "top": "h"},
        {"name": "sum", "type": "Eltwise", "bottom": ["h", "x"], "top": "y"},
        {"name": "loss", "type": "EuclideanLoss", "bottom": ["y", "t"], "top": "loss"}]}, "train")
    inplace = Net({"force_backward": True, "layers": [
        {"name": "in", "type": "Input", "top": ["x", "t"], "shape": [[2, 3, 4], [2, 3, 4]]},
        {"name": "keep", "type": "Power", "bottom": "x", "top": "k"},
        {"name": "r", "type": "ReLU", "bottom": "x", "top": "x"},
        {"name": "sum", "type": "Eltwise", "bottom": ["x", "k"], "top": "y"},
        {"name": "loss", "type": "EuclideanLoss", "bottom": ["y", "t"], "top": "loss"}]}, "train")
    for net, shares in ((shared, True), (inplace, False)):
        (split,) = [l for l in net.layers if l.type_name == "Split"]
        assert split.share_data is shares
        i = net.layers.index(split)
        bottom, tops = net.bottom_vecs[i][0], net.top_vecs[i]
        net.blobs["x"].data[...] = x if net is shared else 0
        bottom.data[...] = x
        net.forward()
        assert all((t.buffers()[0] is bottom.buffers()[0]) is shares for t in tops)
        relu = np.maximum(x, 0)
        np.testing.assert_allclose(net.blobs["y"].data, relu + x)
        net.blobs["t"].data[...] = 0
        net.forward()
        net.backward()
        want = (relu + x) * ((x > 0) + 1.0) / 2      # d loss / d x, loss = |y|^2 / (2 N)
        np.testing.assert_allclose(bottom.diff, want, rtol=1e-6)


def test_a_test_net_keeps_no_copies_for_backward():
    """Scale and BatchNorm in a net without a loss skip what only backward reads, and give
    what they give in a net that trains."""
    layers = [
        {"name": "in", "type": "Input", "top": ["x", "t"], "shape": [[2, 3, 4, 4], [2, 3, 4, 4]]},
        {"name": "bn", "type": "BatchNorm", "bottom": "x", "top": "x", "use_global_stats": False},
        {"name": "sc", "type": "Scale", "bottom": "x", "top": "x", "bias_term": True,
         "filler": {"type": "gaussian"}, "bias_filler": {"type": "gaussian"}}]
    loss = [{"name": "loss", "type": "EuclideanLoss", "bottom": ["x", "t"], "top": "loss"}]
    x = np.random.default_rng(7).normal(size=(2, 3, 4, 4))
    outs = []
    for body in (layers, layers + loss):
        net = Net({"layers": body}, "train", seed=0)
        net.blobs["x"].data[...] = x
        net.forward()
        outs.append(net.blobs["x"].data.copy())
        need = [l.need_backward for l in net.layers if l.type_name in ("BatchNorm", "Scale")]
        assert need == [False, body is not layers]    # BatchNorm: nothing learns below it
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-6)
