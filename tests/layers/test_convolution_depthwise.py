"""ConvolutionDepthwise, and Convolution with group == channels (same kernels): PyTorch's
conv2d(groups=C) as the reference (forward, data, weight and bias gradients), the float64
gradient check, and the plain loop version of the forward kernel."""
import numpy as np
import pytest

from layerflow import ConfigError, Net, ShapeError
from layerflow.kernels.cpu.depthwise_conv import (depthwise_backward_data, depthwise_forward,
                                                  depthwise_forward_reference)

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, torch

F = torch.nn.functional

# (params, input shape): strides, pads (also wider than the kernel), dilation, multiplier,
# no bias, odd sizes, a kernel as large as the padded input, batch 1
GRID = [
    ({"kernel_size": 3, "pad": 1}, (2, 3, 7, 9)),
    ({"kernel_size": 3, "pad": 1, "stride": 2}, (2, 4, 9, 8)),
    ({"kernel_size": [3, 5], "pad": [2, 1], "stride": [1, 2], "dilation": [2, 1]}, (1, 2, 8, 11)),
    ({"num_output": 6, "kernel_size": 3}, (2, 3, 6, 5)),           # depth multiplier 2
    ({"kernel_size": 5, "bias_term": False, "stride": 3}, (3, 2, 5, 7)),
    ({"kernel_size": 2, "pad": 3}, (1, 5, 4, 3)),
    ({"kernel_size": 7, "pad": 1}, (2, 2, 5, 5)),
    ({"kernel_h": 1, "kernel_w": 3, "pad_h": 0, "pad_w": 1}, (2, 6, 3, 17)),
    # rows wider than two vectors (the split by column parity in whole vectors, masked
    # tails), batch 1 with channels across the threads, odd sizes, dilation with stride 2
    ({"kernel_size": 3, "pad": 1, "stride": 2}, (1, 3, 37, 45)),
    ({"kernel_size": 3, "pad": 1}, (1, 5, 20, 70)),
    ({"kernel_size": 5, "pad": 2, "stride": 2, "dilation": 2}, (2, 3, 21, 67)),
    ({"kernel_size": 3, "pad": 0, "stride": 3}, (1, 2, 11, 50)),
]


def reference(layer, x, dy):
    p = layer.p
    c = x.shape[1]
    tx = to_torch(x)
    tw = to_torch(layer.blobs[0].data.copy())
    tb = to_torch(layer.blobs[1].data.copy()) if p.bias_term else None
    ty = F.conv2d(tx, tw, tb, stride=p.strides, padding=p.pads, dilation=p.dilations,
                  groups=c)
    ty.backward(torch.tensor(dy))
    grads = [tw.grad.numpy()] + ([tb.grad.numpy()] if p.bias_term else [])
    return ty.detach().numpy(), tx.grad.numpy(), grads


def close(dtype):
    return {"rtol": 2e-4, "atol": 2e-5} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}


def build(kind, params, x, dtype):
    params = dict(params, bias_filler={"type": "gaussian", "std": 1},
                  weight_filler={"type": "gaussian", "std": 1})
    if kind == "Convolution":
        c = x.shape[1]
        params = dict(params, group=c, num_output=params.get("num_output", c))
    return make_layer(kind, params, [x], dtype=dtype)


@pytest.mark.parametrize("kind", ["ConvolutionDepthwise", "Convolution"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("params,shape", GRID)
def test_depthwise_matches_torch(kind, params, shape, dtype):
    rng = np.random.default_rng(7)
    x = rng.normal(size=shape).astype(dtype)
    layer, bottom, top = build(kind, params, x, dtype)
    if kind == "Convolution":
        assert layer._depthwise is not None           # the direct kernels, not im2col
    (y,) = forward(layer, bottom, top)
    dy = rng.normal(size=y.shape).astype(dtype)
    (dx,), grads = backward(layer, bottom, top, [dy])
    ry, rdx, rgrads = reference(layer, x, dy)
    assert y.shape == ry.shape
    np.testing.assert_allclose(y, ry, **close(dtype))
    np.testing.assert_allclose(dx, rdx, **close(dtype))
    assert len(grads) == len(rgrads)
    for g, r in zip(grads, rgrads):
        np.testing.assert_allclose(g, r, **close(dtype))


@pytest.mark.parametrize("params,shape", [GRID[1], GRID[2], GRID[3], GRID[5]])
def test_depthwise_gradient(params, shape):
    x = np.random.default_rng(9).normal(size=shape)
    layer, bottom, top = build("ConvolutionDepthwise", params, x, np.float64)
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("params,shape", GRID)
def test_fast_forward_matches_the_loop_version(params, shape):
    x = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    layer, bottom, top = build("ConvolutionDepthwise", params, x, np.float32)
    (y,) = forward(layer, bottom, top)
    ref = np.empty_like(y)
    has_bias = len(layer.blobs) > 1
    bias = layer.blobs[1].data if has_bias else np.zeros(1, np.float32)
    p = layer.p
    depthwise_forward_reference(x, layer.blobs[0].data, bias, has_bias, *p.strides, *p.pads,
                                *p.dilations, ref)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    out = np.full_like(y, np.nan)                      # written whole, whatever was there
    depthwise_forward(x, layer.blobs[0].data, bias, has_bias, *p.strides, *p.pads,
                      *p.dilations, out, layer._dw_work["forward"][1])
    np.testing.assert_array_equal(out, y)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("parts", [1, 2, 3, 7])
@pytest.mark.parametrize("params,shape", [GRID[0], GRID[3], GRID[8], GRID[10]])
def test_forward_in_any_number_of_parts_matches_the_loop_version(params, shape, parts, dtype):
    """The input planes cut into 1, 2, 3 or more runs than there are planes: each run pads
    its own planes in its own buffer, and y is the same."""
    x = np.random.default_rng(3).normal(size=shape).astype(dtype)
    layer, bottom, top = build("ConvolutionDepthwise", params, x, dtype)
    (y,) = forward(layer, bottom, top)
    p = layer.p
    has_bias = len(layer.blobs) > 1
    bias = layer.blobs[1].data if has_bias else np.zeros(1, dtype)
    ref = np.empty_like(y)
    depthwise_forward_reference(x, layer.blobs[0].data, bias, has_bias, *p.strides, *p.pads,
                                *p.dilations, ref)
    work = np.full((parts, layer._dw_work["forward"][1].shape[1]), np.nan, dtype)  # zeroed
    out = np.full_like(y, np.nan)
    depthwise_forward(x, layer.blobs[0].data, bias, has_bias, *p.strides, *p.pads,
                      *p.dilations, out, work)
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}
    np.testing.assert_allclose(out, ref, **tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("params,shape,turned", [
    (*GRID[0], True), (*GRID[6], True), (*GRID[7], True), (*GRID[9], True),
    ({"kernel_size": 3, "pad": 2, "dilation": 2}, (1, 4, 9, 40), True),
    (*GRID[1], True), (*GRID[8], True), (*GRID[10], True), (*GRID[11], True),   # strides 2, 3
    ({"kernel_size": 3, "pad": 1, "stride": 2}, (2, 3, 10, 36), True),           # even sizes
    (*GRID[2], True), (*GRID[4], True),
    (*GRID[3], False), (*GRID[5], False)])          # a depth multiplier; pad 3 > kernel 2 - 1
def test_data_gradient_as_a_turned_forward_matches_the_scatter_kernel(params, shape, turned,
                                                                      dtype):
    """One output per channel: dx is the forward kernel run on dy (spread out by the
    strides) with the filters turned; other layers keep the scatter kernel. Both give what
    the scatter kernel gives."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=shape).astype(dtype)
    layer, bottom, top = build("ConvolutionDepthwise", params, x, dtype)
    (y,) = forward(layer, bottom, top)
    dy = rng.normal(size=y.shape).astype(dtype)
    (dx,), _ = backward(layer, bottom, top, [dy])
    assert ("data" in layer._dw_work) is turned
    want = np.full_like(x, np.nan)
    p = layer.p
    depthwise_backward_data(dy, layer.blobs[0].data, *p.strides, *p.pads, *p.dilations, want)
    np.testing.assert_allclose(dx, want, **close(dtype))


@pytest.mark.parametrize("params,shape", [GRID[0], GRID[1], GRID[3], GRID[8], GRID[10]])
def test_threaded_layer_matches_torch(monkeypatch, params, shape):
    """Above PARALLEL_MIN_FMAS (patched to 0) the forward cuts the planes and the weight
    gradient the channels into one run per thread (3 here, more than some nets' channels);
    outputs and all gradients still match PyTorch."""
    import layerflow.layers.convolution_depthwise as dwl
    from layerflow.runtime import Runtime
    monkeypatch.setattr(dwl, "PARALLEL_MIN_FMAS", dict.fromkeys(dwl.PARALLEL_MIN_FMAS, 0))
    rng = np.random.default_rng(11)
    x = rng.normal(size=shape)
    params = dict(params, bias_filler={"type": "gaussian", "std": 1},
                  weight_filler={"type": "gaussian", "std": 1})
    layer, bottom, top = make_layer("ConvolutionDepthwise", params, [x],
                                    runtime=Runtime.create(threads=3))
    (y,) = forward(layer, bottom, top)
    dy = rng.normal(size=y.shape)
    (dx,), grads = backward(layer, bottom, top, [dy])
    assert all(w.shape[0] == min(3, shape[0] * shape[1])
               for _, w in layer._dw_work.values())
    ry, rdx, rgrads = reference(layer, x, dy)
    np.testing.assert_allclose(y, ry, **close(np.float64))
    np.testing.assert_allclose(dx, rdx, **close(np.float64))
    for g, r in zip(grads, rgrads):
        np.testing.assert_allclose(g, r, **close(np.float64))


def test_param_diffs_accumulate_and_bottom_diff_is_written():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 6, 6))
    layer, bottom, top = build("ConvolutionDepthwise", {"kernel_size": 3}, x, np.float64)
    assert layer.blobs[0].shape == (3, 1, 3, 3) and layer.blobs[1].shape == (3,)
    (y,) = forward(layer, bottom, top)
    dy = rng.normal(size=y.shape)
    (dx,), once = backward(layer, bottom, top, [dy])
    top[0].diff[...] = dy
    bottom[0].diff[...] = 123.0
    layer.backward(top, [True], bottom)               # diffs not cleared: params add up
    np.testing.assert_array_equal(bottom[0].diff, dx)
    for b, g in zip(layer.blobs, once):
        np.testing.assert_allclose(b.diff, 2 * g)


def test_bad_multiplier_and_group_are_refused():
    x = np.zeros((1, 4, 5, 5))
    with pytest.raises(ShapeError, match="num_output 6 must be a multiple of the 4 channels"):
        make_layer("ConvolutionDepthwise", {"kernel_size": 3, "num_output": 6}, [x])
    with pytest.raises(ShapeError, match="group 2 must be the channel count 4"):
        make_layer("ConvolutionDepthwise", {"kernel_size": 3, "group": 2}, [x])


def test_mobilenet_caffe_style_block_trains_in_a_net():
    cfg = {"force_backward": True, "layers": [
        {"name": "in", "type": "Input", "top": ["x", "t"], "shape": [[2, 4, 8, 8],
                                                                     [2, 4, 4, 4]]},
        {"name": "dw", "type": "ConvolutionDepthwise", "bottom": "x", "top": "d",
         "kernel_size": 3, "pad": 1, "stride": 2, "bias_term": False,
         "weight_filler": {"type": "msra"}},
        {"name": "loss", "type": "EuclideanLoss", "bottom": ["d", "t"], "top": "loss"}]}
    net = Net(cfg, "train", seed=0)
    net.blobs["x"].data[...] = np.random.default_rng(0).normal(size=(2, 4, 8, 8))
    loss = net.forward_backward()
    assert np.isfinite(loss) and net.blobs["d"].shape == (2, 4, 4, 4)
    assert np.abs(net.params["dw"][0].diff).sum() > 0
    with pytest.raises(ConfigError, match="multiple"):
        cfg["layers"][1]["num_output"] = 5
        Net(cfg, "train")
