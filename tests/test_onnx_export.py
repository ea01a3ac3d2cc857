"""ONNX export: onnxruntime's outputs equal layerflow's (to 1e-5) for LeNet, cifar10-quick,
the residual MLP, the MLP and a net that holds every other exported layer type."""
from pathlib import Path

import numpy as np
import pytest

from layerflow.config import load_yaml_text
from layerflow.io.onnx_export import ExportError, export_onnx, onnx_names, run_layerflow
from layerflow.net import Net

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

ROOT = Path(__file__).resolve().parents[1]


def randomize(net, seed=0):
    """Non-trivial weights everywhere (biases too; BatchNorm sums positive), scaled by
    fan-in so that activations stay of order 1, as in a trained net."""
    rng = np.random.default_rng(seed)
    for layer in net.layers:
        for i, blob in enumerate(layer.blobs):
            if layer.type_name == "BatchNorm":
                blob.data[...] = (rng.uniform(0.5, 2.0, blob.shape) if i else
                                  rng.normal(size=blob.shape))
            else:
                fan_in = blob.count // blob.shape[0] if blob.ndim > 1 else 1
                blob.data[...] = rng.normal(0, 1.0 / np.sqrt(fan_in), blob.shape)


def compare(net, tmp_path, batch=3, seed=1):
    path = tmp_path / "model.onnx"
    model = export_onnx(net, path)
    ins, outs = onnx_names(model)
    rng = np.random.default_rng(seed)
    feeds = {}
    for inp in model.graph.input:
        shape = [batch] + list(net.blobs[inp.name].shape[1:])
        feeds[inp.name] = rng.random(shape).astype(np.float32)
    expected = run_layerflow(net, model, feeds)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(outs, feeds)
    for name, value in zip(outs, got):
        assert value.shape == expected[name].shape, name
        scale = max(1.0, float(np.abs(expected[name]).max()))
        np.testing.assert_allclose(value, expected[name], rtol=1e-5, atol=1e-5 * scale,
                                   err_msg=name)
    return model


def config_net(path, mnist=False):
    return Net(str(path), "test", seed=3)


def test_mlp_matches_onnxruntime(mnist_data, tmp_path):
    net = config_net(ROOT / "configs" / "mlp.yaml")
    randomize(net)
    model = compare(net, tmp_path)
    assert onnx_names(model) == (["data"], ["ip3"])      # label, loss, accuracy left out


def test_lenet_matches_onnxruntime(mnist_data, tmp_path):
    net = config_net(ROOT / "configs" / "lenet.yaml")
    randomize(net)
    model = compare(net, tmp_path)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("Conv") == 2 and ops.count("MaxPool") == 2 and "Gemm" in ops


def test_residual_mlp_matches_onnxruntime(mnist_data, tmp_path):
    net = config_net(ROOT / "configs" / "residual_mlp.yaml")
    randomize(net)
    model = compare(net, tmp_path)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("Sum") == 2 and "Identity" in ops


def test_cifar10_quick_matches_onnxruntime(tmp_path):
    folder = ROOT / "models" / "cifar10_quick"
    configs = sorted(folder.glob("*.yaml"))
    if not configs:
        pytest.skip("models/cifar10_quick has no config yet")
    config = next((c for c in configs if "net" in c.name), configs[0])
    net = Net(str(config), "test", seed=3)
    randomize(net)
    model = compare(net, tmp_path, batch=2)
    assert "AveragePool" in [n.op_type for n in model.graph.node]


ZOO = """
name: zoo
layers:
  - {name: in, type: Input, top: [x, y], shape: [[2, 4, 9, 9], [2, 4, 9, 9]]}
  - {name: bn, type: BatchNorm, bottom: x, top: x}
  - {name: sc, type: Scale, bottom: x, top: x, bias_term: true}
  - {name: bias, type: Bias, bottom: y, top: yb}
  - {name: prod, type: Eltwise, bottom: [x, yb], top: p, operation: PROD}
  - {name: mx, type: Eltwise, bottom: [x, yb, p], top: m, operation: MAX}
  - {name: sum, type: Eltwise, bottom: [m, p], top: s, operation: SUM, coeff: [0.5, -2]}
  - {name: cat, type: Concat, bottom: [s, m], top: c}
  - {name: lrn, type: LRN, bottom: c, top: n, local_size: 3, alpha: 0.5, beta: 0.75, k: 2}
  - {name: slice, type: Slice, bottom: n, top: [n1, n2], slice_point: [3]}
  - {name: deconv, type: Deconvolution, bottom: n1, top: d, num_output: 4, kernel_size: 3,
     stride: 2, pad: 1}
  - {name: crop, type: Crop, bottom: [d, y], top: dc, axis: 2, offset: [1]}
  - {name: conv, type: Convolution, bottom: n2, top: cv, num_output: 6, kernel_size: 3,
     pad: 1, group: 1, dilation: 1}
  - {name: leaky, type: ReLU, bottom: cv, top: cv, negative_slope: 0.1}
  - {name: avg, type: Pooling, bottom: cv, top: av, pool: AVE, kernel_size: 3, stride: 2}
  - {name: gmax, type: Pooling, bottom: dc, top: g, pool: MAX, global_pooling: true}
  - {name: sig, type: Sigmoid, bottom: av, top: av}
  - {name: flat, type: Flatten, bottom: av, top: f}
  - {name: tanh, type: TanH, bottom: f, top: f}
  - {name: drop, type: Dropout, bottom: f, top: f}
  - {name: ip, type: InnerProduct, bottom: f, top: z, num_output: 5}
  - {name: rs, type: Reshape, bottom: z, top: zr, shape: [0, 5, 1]}
  - {name: prob, type: Softmax, bottom: zr, top: prob, axis: 1}
  - {name: gflat, type: Flatten, bottom: g, top: gf}
"""


def test_every_exported_layer_type_matches_onnxruntime(tmp_path):
    net = Net(load_yaml_text(ZOO, "zoo.yaml"), "test", seed=3)
    randomize(net)
    model = compare(net, tmp_path, batch=2)
    ops = {n.op_type for n in model.graph.node}
    for op in ("BatchNormalization", "Mul", "Add", "Max", "Sum", "Concat", "LRN", "Split",
               "ConvTranspose", "Slice", "Conv", "LeakyRelu", "AveragePool", "GlobalMaxPool",
               "Sigmoid", "Reshape", "Tanh", "Identity", "Gemm", "Softmax"):
        assert op in ops, op
    assert sorted(onnx_names(model)[1]) == ["gf", "prob"]


def test_unsupported_layer_is_a_clear_error(tmp_path):
    cfg = load_yaml_text("""
layers:
  - {name: in, type: Input, top: x, shape: [2, 3, 4, 4]}
  - {name: lrn, type: LRN, bottom: x, top: y, norm_region: WITHIN_CHANNEL, local_size: 3}
""")
    net = Net(cfg, "test")
    with pytest.raises(ExportError, match="layer 'lrn'.*WITHIN_CHANNEL"):
        export_onnx(net, tmp_path / "m.onnx")


def test_caffe_deploy_prototxt_to_onnx_end_to_end(tmp_path):
    """Caffe's examples/mnist/lenet.prototxt -> import-caffe -> export-onnx -> onnxruntime."""
    from layerflow.config.caffe_import import import_caffe
    result = import_caffe(ROOT / "tests" / "data" / "caffe" / "lenet_deploy.prototxt")
    assert not result.problems
    net = Net(load_yaml_text(result.to_yaml(), "lenet_deploy.yaml"), "test", seed=3)
    assert net.blobs["prob"].shape == (64, 10)
    randomize(net)
    model = compare(net, tmp_path, batch=5)
    assert onnx_names(model) == (["data"], ["prob"])


def test_net_ending_in_an_in_place_layer_keeps_its_output(tmp_path):
    """The last layer runs in place (a final ReLU): its fresh tensor is the graph output
    (it was dropped once, leaving a graph with no output)."""
    net = Net(load_yaml_text(
        "layers:\n"
        "  - {name: in, type: Input, top: x, shape: [2, 5]}\n"
        "  - {name: ip, type: InnerProduct, bottom: x, top: y, num_output: 3}\n"
        "  - {name: relu, type: ReLU, bottom: y, top: y}\n"), "test", seed=1)
    randomize(net)
    model = compare(net, tmp_path)
    assert onnx_names(model) == (["x"], ["y_1"])


def test_layer_without_to_onnx_is_named(tmp_path):
    net = Net(load_yaml_text(
        "layers:\n"
        "  - {name: in, type: Input, top: x, shape: [2, 5]}\n"
        "  - {name: odd, type: 'tests.test_runtime:Double', bottom: x, top: y}\n"), "test")
    with pytest.raises(ExportError, match=r"layer 'odd' \(Double\): type Double has no ONNX"):
        export_onnx(net, tmp_path / "m.onnx")


@pytest.mark.parametrize("layer", [
    "{type: PReLU, filler: {type: uniform, min: 0.1, max: 0.5}}",
    "{type: PReLU, channel_shared: true}",
    "{type: ELU, alpha: 0.7}", "{type: AbsVal}", "{type: BNLL}",
    "{type: Clip, min: -0.3, max: 0.4}", "{type: Swish, beta: 1.5}",
    "{type: Permute, order: [0, 2, 3, 1]}"])
def test_catalogue_layers_state_their_own_export(tmp_path, layer):
    net = Net(load_yaml_text(
        "layers:\n"
        "  - {name: in, type: Input, top: x, shape: [2, 3, 4, 5]}\n"
        "  - {name: shift, type: Scale, bottom: x, top: s, bias_term: true,\n"
        "     bias_filler: {type: constant, value: -0.5}}\n"
        f"  - {{name: probe, bottom: s, top: y, {layer[1:]}\n"), "test", seed=2)
    compare(net, tmp_path)
