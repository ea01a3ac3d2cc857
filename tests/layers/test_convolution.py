import numpy as np
import pytest

from layerflow import ConfigError, Net, ShapeError
from layerflow.kernels.cpu import conv_plan
from layerflow.runtime import Runtime

from .harness import (
    DTYPES,
    backward,
    check_gradient,
    forward,
    make_layer,
    to_torch,
    torch,
)

F = torch.nn.functional

# (params, input shape): kernel / stride / pad / dilation / group over odd sizes and batch 1.
GRID = [
    ({"num_output": 4, "kernel_size": 3}, (2, 3, 7, 9)),
    ({"num_output": 5, "kernel_size": 1}, (1, 3, 5, 4)),
    ({"num_output": 4, "kernel_size": 3, "stride": 2, "pad": 1}, (2, 2, 9, 8)),
    ({"num_output": 6, "kernel_size": [3, 2], "stride": [2, 1], "pad": [1, 2],
      "dilation": [1, 2], "group": 2}, (1, 4, 7, 9)),
    ({"num_output": 3, "kernel_h": 2, "kernel_w": 4, "stride_h": 3, "stride_w": 2,
      "pad_h": 0, "pad_w": 1}, (3, 1, 8, 11)),
    ({"num_output": 6, "kernel_size": 3, "dilation": 2, "group": 3, "pad": 2}, (2, 3, 6, 5)),
    ({"num_output": 2, "kernel_size": 5, "bias_term": False}, (1, 2, 5, 5)),
    ({"num_output": 4, "kernel_size": 5, "pad": 2, "stride": 3}, (2, 3, 4, 6)),
    # direct kernels: more channels than one panel (32 float32 / 16 float64 lanes)
    ({"num_output": 40, "kernel_size": 3, "pad": 1}, (2, 20, 6, 7)),
    ({"num_output": 7, "kernel_size": [3, 5], "pad": [2, 1], "dilation": [2, 1]},
     (3, 18, 8, 9)),
    ({"num_output": 3, "kernel_size": 3, "pad": 3}, (1, 2, 4, 5)),   # pad > k - 1: im2col
    # 1x1 without padding: BLAS on the NCHW blobs (Pointwise), strided as ResNet's shortcut
    ({"num_output": 6, "kernel_size": 1, "stride": 2}, (3, 5, 7, 8)),
]
# the algorithm of each, untuned (the GRID's layers are under TUNE_FLOPS)
ALGORITHM = ["direct", "pointwise", "direct", "im2col", "direct", "depthwise", "direct",
             "direct", "direct", "direct", "direct", "pointwise"]


def conv_reference(layer, x, dy):
    p = layer.p
    tx = to_torch(x)
    tw = to_torch(layer.blobs[0].data.copy())
    tb = to_torch(layer.blobs[1].data.copy()) if p.bias_term else None
    ty = F.conv2d(tx, tw, tb, stride=p.strides, padding=p.pads, dilation=p.dilations,
                  groups=p.group)
    ty.backward(torch.tensor(dy))
    grads = [tw.grad.numpy()] + ([tb.grad.numpy()] if p.bias_term else [])
    return ty.detach().numpy(), tx.grad.numpy(), grads


def close(dtype):
    return {"rtol": 2e-4, "atol": 2e-5} if dtype == np.float32 else {"rtol": 1e-9, "atol": 1e-11}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("params,shape", GRID)
def test_convolution_matches_torch(params, shape, dtype):
    rng = np.random.default_rng(3)
    x = rng.normal(size=shape).astype(dtype)
    layer, bottom, top = make_layer("Convolution", dict(params, bias_filler={
        "type": "gaussian", "std": 1}), [x], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    dy = rng.normal(size=y.shape).astype(dtype)
    (dx,), pgrads = backward(layer, bottom, top, [dy])
    ry, rdx, rgrads = conv_reference(layer, x, dy)
    assert y.shape == ry.shape
    np.testing.assert_allclose(y, ry, **close(dtype))
    np.testing.assert_allclose(dx, rdx, **close(dtype))
    assert len(pgrads) == len(rgrads)
    for g, r in zip(pgrads, rgrads):
        np.testing.assert_allclose(g, r, **close(dtype))


@pytest.mark.parametrize("params,shape", [GRID[0], GRID[1], GRID[3], GRID[9], GRID[11]])
def test_convolution_gradient(params, shape):
    x = np.random.default_rng(5).normal(size=shape)
    layer, bottom, top = make_layer("Convolution", dict(params, bias_filler={
        "type": "gaussian", "std": 1}), [x])
    check_gradient(layer, bottom, top)


def test_param_diffs_accumulate_and_layouts():
    x = np.random.default_rng(0).normal(size=(2, 4, 6, 6))
    layer, bottom, top = make_layer("Convolution", {"num_output": 6, "kernel_size": [3, 2],
                                                    "group": 2}, [x])
    assert layer.blobs[0].shape == (6, 2, 3, 2) and layer.blobs[1].shape == (6,)
    assert top[0].shape == (2, 6, 4, 5)
    forward(layer, bottom, top)
    top[0].diff[...] = 1.0
    layer.blobs[0].diff[...] = 0
    layer.blobs[1].diff[...] = 0
    layer.backward(top, [False], bottom)
    once = [b.diff.copy() for b in layer.blobs]
    forward(layer, bottom, top)
    layer.backward(top, [False], bottom)
    for b, g in zip(layer.blobs, once):
        np.testing.assert_allclose(b.diff, 2 * g)


def test_direct_kernels_where_they_apply():
    """Ungrouped convolutions take the direct kernels, 1x1 ones without padding BLAS on
    the blobs, grouped ones im2col + GEMM; all are checked against PyTorch above."""
    for (params, shape), algorithm in zip(GRID, ALGORITHM, strict=True):
        layer = make_layer("Convolution", params, [np.zeros(shape)])[0]
        got = "depthwise" if layer._depthwise else layer._plan.choice["algorithm"]
        assert got == algorithm, params
        assert layer._direct == (algorithm == "direct")


@pytest.mark.parametrize("params", [{"num_output": 4, "kernel_size": 3},
                                    {"num_output": 4, "kernel_size": 3, "group": 2}])
def test_reshape_keeps_buffers_until_the_shape_changes(params):
    x = np.zeros((2, 4, 8, 8), np.float32)        # 4 channels: group 2 is not depthwise
    layer, bottom, top = make_layer("Convolution", params, [x], dtype=np.float32)

    def buffer():
        return layer._plan.fwd.xpad[0] if layer._direct else layer._plan.col[0]
    before = buffer()
    layer.reshape(bottom, top)
    assert buffer() is before
    bottom[0].reshape((4, 4, 10, 10))
    layer.reshape(bottom, top)
    assert top[0].shape[:2] == (4, 4) and buffer() is not before


@pytest.mark.parametrize("way", ["full", "columns"])
@pytest.mark.parametrize("tile", conv_plan.tiles())
@pytest.mark.parametrize("index", [0, 8, 9])
def test_every_candidate_matches_torch(monkeypatch, index, tile, way):
    """Each tile of this CPU target in each product, and both data gradient ways: the
    data gradient as a convolution of the padded dY ("full") and as W^T dY + col2im
    ("columns")."""
    choice = {"algorithm": "direct", "forward": list(tile), "weight": list(tile),
              "data": [way, *tile]}
    monkeypatch.setattr(conv_plan, "choose", lambda *a: (choice, "test"))
    params, shape = GRID[index]
    rng = np.random.default_rng(4)
    x = rng.normal(size=shape)
    layer, bottom, top = make_layer("Convolution", params, [x])
    assert layer._plan.choice == choice
    (y,) = forward(layer, bottom, top)
    dy = rng.normal(size=y.shape)
    (dx,), pgrads = backward(layer, bottom, top, [dy])
    ry, rdx, rgrads = conv_reference(layer, x, dy)
    np.testing.assert_allclose(y, ry, **close(np.float64))
    np.testing.assert_allclose(dx, rdx, **close(np.float64))
    for g, r in zip(pgrads, rgrads):
        np.testing.assert_allclose(g, r, **close(np.float64))


def test_default_data_gradient_way_follows_the_work():
    def way(shape, params):
        layer = make_layer("Convolution", params, [np.zeros(shape, np.float32)],
                           dtype=np.float32)[0]
        return conv_plan.default_choice(layer._plan.s, np.float32)["data"][0]
    assert way((2, 20, 12, 12), {"num_output": 50, "kernel_size": 5}) == "columns"
    assert way((2, 32, 16, 16), {"num_output": 32, "kernel_size": 5, "pad": 2}) == "full"
    assert way(GRID[2][1], GRID[2][0]) == "columns"          # strided: only columns


@pytest.mark.parametrize("count", [3, 16, 20, 32, 50, 64, 100])
def test_candidates_pad_the_panels_least(count):
    """Each product times only the tiles whose panels waste few lanes; the default is the
    first of them. With AVX-512, 16 float32 channels take one-vector tiles (16 lanes), not
    the 2-vector ones whose panels would be half padding."""
    dtype = np.float32
    cands = conv_plan.candidates(dtype, count)
    best = max(conv_plan.lane_use(t, dtype, count) for t in conv_plan.tiles())
    assert cands and all(conv_plan.lane_use(t, dtype, count) >= conv_plan.LANE_USE * best
                         for t in cands)
    assert [t for t in conv_plan.tiles() if t in cands] == cands        # in TILES' order
    s = conv_plan.ConvShape(2, 16, 8, 8, count, 3, 3, 1, 1, 1, 1, 1, 1, 8, 8)
    choice = conv_plan.default_choice(s, dtype)
    assert tuple(choice["forward"]) == tuple(choice["weight"]) == cands[0]
    assert tuple(choice["data"][1:]) == conv_plan.candidates(
        dtype, conv_plan.panel_counts(s)[choice["data"][0]])[0]
    if conv_plan.target().isa == "avx512" and count == 16:
        assert cands == [(16, 1), (12, 1)]


def test_tuning_measures_once_then_reads_the_file(monkeypatch, tmp_path):
    monkeypatch.setenv("LAYERFLOW_TUNING_DIR", str(tmp_path))
    monkeypatch.setattr(conv_plan, "TUNE_FLOPS", 0)
    params, shape = GRID[8]
    x = np.zeros(shape, np.float32)
    first = make_layer("Convolution", params, [x], dtype=np.float32)[0]
    assert first._plan_how.startswith("measured (") and "cached" not in first._plan_how
    (path,) = tmp_path.iterdir()
    assert conv_plan.target().isa in path.name
    again = make_layer("Convolution", params, [x], dtype=np.float32)[0]
    assert again._plan_how == "measured (cached)" and again._plan.choice == first._plan.choice
    assert "[measured (cached); " in conv_plan.describe(again)
    monkeypatch.setenv("LAYERFLOW_TUNE", "0")
    fixed = make_layer("Convolution", params, [x], dtype=np.float32)[0]
    assert fixed._plan.choice == conv_plan.default_choice(fixed._plan.s, np.float32)
    assert "LAYERFLOW_TUNE=0" in fixed._plan_how
    path.write_text("{not json")                       # a broken file: measured again
    monkeypatch.delenv("LAYERFLOW_TUNE")
    assert "cached" not in make_layer("Convolution", params, [x],
                                      dtype=np.float32)[0]._plan_how


@pytest.mark.parametrize("dtype", DTYPES)
def test_direct_path_split_over_threads_matches_torch(monkeypatch, dtype):
    """Five images over three threads (uneven ranges), each with its own buffers and
    weight-gradient partial sums."""
    params, shape = GRID[8]
    rng = np.random.default_rng(9)
    x = rng.normal(size=(5,) + shape[1:]).astype(dtype)
    layer, bottom, top = make_layer("Convolution", params, [x], dtype=dtype,
                                    runtime=Runtime(threads=3, blas_threads=1))
    assert layer._direct and layer._plan.parts == 3
    (y,) = forward(layer, bottom, top)
    dy = rng.normal(size=y.shape).astype(dtype)
    (dx,), pgrads = backward(layer, bottom, top, [dy])
    ry, rdx, rgrads = conv_reference(layer, x, dy)
    np.testing.assert_allclose(y, ry, **close(dtype))
    np.testing.assert_allclose(dx, rdx, **close(dtype))
    for g, r in zip(pgrads, rgrads):
        np.testing.assert_allclose(g, r, **close(dtype))


def test_kernel_forms_agree():
    a = make_layer("Convolution", {"num_output": 2, "kernel_size": [3, 2], "pad": [1, 0]},
                   [np.zeros((1, 1, 5, 5))])[0].p
    b = make_layer("Convolution", {"num_output": 2, "kernel_h": 3, "kernel_w": 2,
                                   "pad_h": 1, "pad_w": 0}, [np.zeros((1, 1, 5, 5))])[0].p
    assert (a.kernel, a.pads, a.strides) == (b.kernel, b.pads, b.strides) == ((3, 2), (1, 0),
                                                                              (1, 1))


def test_kernel_larger_than_padded_input_names_layer_and_shape():
    with pytest.raises(ShapeError, match=r"'convolution'.*kernel 7x7.*\[1, 2, 5, 5\]"):
        make_layer("Convolution", {"num_output": 2, "kernel_size": 7, "pad": 0},
                   [np.zeros((1, 2, 5, 5))])


def test_channels_not_divisible_by_group():
    with pytest.raises(ShapeError, match=r"3 channels, not divisible by group 2"):
        make_layer("Convolution", {"num_output": 4, "kernel_size": 1, "group": 2},
                   [np.zeros((1, 3, 5, 5))])


@pytest.mark.parametrize("params,message", [
    ({"num_output": 3, "kernel_size": 1, "group": 2}, "not divisible by group"),
    ({"num_output": 3}, "missing 'kernel_size'"),
    ({"num_output": 3, "kernel_size": 3, "kernel_h": 3, "kernel_w": 3}, "not both"),
    ({"num_output": 3, "kernel_size": [3, 3, 3]}, r"one value or \[h, w\]"),
    ({"num_output": 3, "kernel_size": 3, "stride": 0}, "'stride' must be >= 1"),
])
def test_bad_params_are_config_errors(params, message):
    with pytest.raises(ConfigError, match=message):
        make_layer("Convolution", params, [np.zeros((1, 2, 5, 5))])


def test_net_error_names_file_layer_and_shapes(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("layers:\n"
                    "  - {name: data, type: Input, top: data, shape: [1, 1, 4, 4]}\n"
                    "  - {name: conv1, type: Convolution, bottom: data, top: conv1,\n"
                    "     num_output: 2, kernel_size: 5}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml.*conv1.*kernel 5x5.*\[1, 1, 4, 4\]"):
        Net(str(path))


@pytest.mark.parametrize("keep", [True, False])
def test_chunked_and_threaded_paths_match_torch(monkeypatch, keep):
    """One image per chunk (so several chunks share out over the threads), with the
    patches kept from forward or recomputed in backward."""
    monkeypatch.setattr(conv_plan, "CHUNK_BYTES", 1)
    monkeypatch.setattr(conv_plan, "KEEP_BYTES", 1 << 30 if keep else 0)
    params, shape = GRID[3]
    rng = np.random.default_rng(8)
    x = rng.normal(size=(5,) + shape[1:])
    layer, bottom, top = make_layer("Convolution", params, [x])
    assert layer._plan.chunks == 5 and layer._plan.keep == keep
    (y,) = forward(layer, bottom, top)
    dy = rng.normal(size=y.shape)
    (dx,), pgrads = backward(layer, bottom, top, [dy])
    ry, rdx, rgrads = conv_reference(layer, x, dy)
    np.testing.assert_allclose(y, ry, **close(np.float64))
    np.testing.assert_allclose(dx, rdx, **close(np.float64))
    for g, r in zip(pgrads, rgrads):
        np.testing.assert_allclose(g, r, **close(np.float64))


@pytest.mark.parametrize("index,algorithm", [(8, "direct"), (9, "direct"), (1, "pointwise"),
                                             (11, "pointwise"), (8, "im2col"),
                                             (3, "im2col")])
def test_one_image_split_over_threads_matches_torch(monkeypatch, index, algorithm):
    """A batch smaller than the threads: direct forward splits the output pixels among
    three threads (uneven shares), Pointwise and im2col cut each product into slabs
    (threads.matmul, its size floor lifted)."""
    from layerflow.kernels.cpu import threads
    monkeypatch.setattr(threads, "SPLIT_FLOPS", 0)
    params, shape = GRID[index]
    if algorithm != "direct" or index == 3:
        monkeypatch.setattr(conv_plan, "choose", lambda s, *a: (
            conv_plan.default_choice(s, np.float64) if algorithm == "direct"
            else {"algorithm": algorithm}, "test"))
    rng = np.random.default_rng(10)
    x = rng.normal(size=(1,) + shape[1:])
    layer, bottom, top = make_layer("Convolution", params, [x],
                                    runtime=Runtime(threads=3, blas_threads=1))
    plan = layer._plan
    assert plan.choice["algorithm"] == algorithm
    if algorithm == "direct":
        assert plan.pixel_parts == 3 and plan.parts == 1
        assert plan.pixel_ranges[0][1] % plan.choice["forward"][0] == 0
    else:
        assert plan.split == 3
    (y,) = forward(layer, bottom, top)
    dy = rng.normal(size=y.shape)
    (dx,), pgrads = backward(layer, bottom, top, [dy])
    ry, rdx, rgrads = conv_reference(layer, x, dy)
    np.testing.assert_allclose(y, ry, **close(np.float64))
    np.testing.assert_allclose(dx, rdx, **close(np.float64))
    for g, r in zip(pgrads, rgrads):
        np.testing.assert_allclose(g, r, **close(np.float64))


@pytest.mark.parametrize("n", [1, 5])
def test_pointwise_split_over_threads_matches_torch(n):
    """Pointwise with images shared out over three threads (5 images: uneven ranges and
    partial sums per thread) and with one image (each product in slabs), strided."""
    params, shape = GRID[11]
    rng = np.random.default_rng(11)
    x = rng.normal(size=(n,) + shape[1:]).astype(np.float32)
    layer, bottom, top = make_layer("Convolution", params, [x], dtype=np.float32,
                                    runtime=Runtime(threads=3, blas_threads=1))
    assert layer._plan.choice["algorithm"] == "pointwise"
    assert layer._plan.parts == min(n, 3)
    (y,) = forward(layer, bottom, top)
    dy = rng.normal(size=y.shape).astype(np.float32)
    (dx,), pgrads = backward(layer, bottom, top, [dy])
    ry, rdx, rgrads = conv_reference(layer, x, dy)
    np.testing.assert_allclose(y, ry, **close(np.float32))
    np.testing.assert_allclose(dx, rdx, **close(np.float32))
    for g, r in zip(pgrads, rgrads):
        np.testing.assert_allclose(g, r, **close(np.float32))


def test_products_are_not_cut_where_blas_runs_its_own_threads():
    """With OpenBLAS given threads of its own (blas_threads 2), one image's products stay
    whole: cutting them too would run threads of threads."""
    params, shape = GRID[11]
    x = np.zeros((1,) + shape[1:])
    for blas, split in ((1, 3), (2, 1)):
        layer = make_layer("Convolution", params, [x],
                           runtime=Runtime(threads=3, blas_threads=blas))[0]
        assert layer._plan.choice["algorithm"] == "pointwise"
        assert layer._plan.split == split
