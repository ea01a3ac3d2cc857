"""Every built-in layer as a LayerCase, run over dtypes and backends: on the CPU and on the
fake device (CUDA mode without GPU twins: the CPU fallback through the blobs' heads), each
compared with PyTorch where PyTorch has the op and with the CPU backend. The layers' own
test files hold their finer cases; this table makes sure no layer misbehaves on a device."""
import numpy as np
import pytest

from .harness import BACKENDS, DTYPES, LayerCase, run_case, torch, torch_reference

F = None if not hasattr(torch, "nn") else torch.nn.functional


def normal(*shape, count=1):
    return lambda rng, dtype: [rng.normal(size=shape) for _ in range(count)]


def away_from_zero(*shape):
    def make(rng, dtype):
        x = rng.normal(size=shape)
        return [np.where(np.abs(x) < 0.05, 0.1, x)]
    return make


def labels(shape, classes):
    return lambda rng, dtype: [rng.normal(size=shape), rng.integers(0, classes, shape[0])]


CASES = [
    LayerCase("relu", "ReLU", {}, away_from_zero(2, 3, 4),
              torch_reference(lambda x: torch.relu(x)), grad={"kink_range": 0.01}),
    LayerCase("leaky", "ReLU", {"negative_slope": 0.1}, away_from_zero(2, 3, 4),
              torch_reference(lambda x: F.leaky_relu(x, 0.1)), grad={"kink_range": 0.01}),
    LayerCase("sigmoid", "Sigmoid", {}, normal(2, 3, 4),
              torch_reference(lambda x: torch.sigmoid(x))),
    LayerCase("tanh", "TanH", {}, normal(2, 3, 4), torch_reference(lambda x: torch.tanh(x))),
    LayerCase("softmax", "Softmax", {}, normal(2, 5, 3),
              torch_reference(lambda x: torch.softmax(x, 1))),
    LayerCase("inner_product", "InnerProduct",
              {"num_output": 4, "bias_filler": {"type": "gaussian"}}, normal(3, 2, 5)),
    LayerCase("convolution", "Convolution",
              {"num_output": 3, "kernel_size": 3, "pad": 1, "bias_filler": {"type": "gaussian"}},
              normal(2, 2, 5, 5)),
    LayerCase("grouped_conv", "Convolution",
              {"num_output": 4, "kernel_size": 2, "stride": 2, "group": 2}, normal(1, 4, 5, 4)),
    LayerCase("deconvolution", "Deconvolution", {"num_output": 2, "kernel_size": 3, "stride": 2},
              normal(1, 3, 3, 4)),
    LayerCase("max_pool", "Pooling", {"pool": "MAX", "kernel_size": 2, "stride": 2},
              normal(2, 2, 5, 4), torch_reference(lambda x: F.max_pool2d(x, 2, 2, ceil_mode=True))),
    LayerCase("ave_pool", "Pooling", {"pool": "AVE", "kernel_size": 3, "stride": 2},
              normal(1, 2, 7, 7), torch_reference(lambda x: F.avg_pool2d(x, 3, 2))),
    LayerCase("lrn", "LRN", {"local_size": 3}, normal(1, 5, 3, 3)),
    LayerCase("batch_norm", "BatchNorm", {}, normal(4, 3, 2, 2),
              torch_reference(lambda x: F.batch_norm(x, None, None, training=True, eps=1e-5)),
              rtol={"float32": 1e-4}, atol={"float32": 1e-5}),
    LayerCase("scale", "Scale", {"bias_term": True, "filler": {"type": "gaussian"}},
              normal(2, 3, 4)),
    LayerCase("bias", "Bias", {},
              lambda rng, dtype: [rng.normal(size=(2, 3, 4)), rng.normal(size=(3,))],
              torch_reference(lambda x, b: x + b.reshape(1, 3, 1))),
    LayerCase("eltwise_sum", "Eltwise", {"coeff": [1.0, -2.0]}, normal(2, 3, count=2),
              torch_reference(lambda a, b: a - 2 * b)),
    LayerCase("eltwise_prod", "Eltwise", {"operation": "PROD"}, normal(2, 3, count=2),
              torch_reference(lambda a, b: a * b)),
    LayerCase("eltwise_max", "Eltwise", {"operation": "MAX"}, normal(2, 3, count=2),
              torch_reference(lambda a, b: torch.maximum(a, b))),
    LayerCase("concat", "Concat", {}, normal(2, 3, count=2),
              torch_reference(lambda a, b: torch.cat([a, b], 1))),
    LayerCase("slice", "Slice", {"slice_point": [1]}, normal(2, 3), num_top=2,
              reference=torch_reference(lambda x: (x[:, :1], x[:, 1:]))),
    LayerCase("crop", "Crop", {"axis": 2, "offset": [1]},
              lambda rng, dtype: [rng.normal(size=(1, 2, 5, 5)), np.zeros((1, 1, 3, 3))],
              torch_reference(lambda x, r: x[:, :, 1:4, 1:4])),
    LayerCase("flatten", "Flatten", {}, normal(2, 3, 2),
              torch_reference(lambda x: x.reshape(2, -1))),
    LayerCase("reshape", "Reshape", {"shape": [0, -1]}, normal(2, 3, 2),
              torch_reference(lambda x: x.reshape(2, -1))),
    LayerCase("euclidean_loss", "EuclideanLoss", {}, normal(3, 4, count=2),
              torch_reference(lambda a, b: ((a - b) ** 2).sum() / 6)),
    LayerCase("softmax_loss", "SoftmaxWithLoss", {}, labels((4, 5), 5),
              torch_reference(lambda x, y: F.cross_entropy(x, y.long()))),
    LayerCase("accuracy", "Accuracy", {}, labels((6, 4), 4), check_gradient=False),
    LayerCase("dropout_test", "Dropout", {}, normal(2, 3), phase="TEST",
              reference=torch_reference(lambda x: x * 1.0)),
]


# The Caffe catalogue's types (their own files hold the gradient checks and references):
# here they only have to compute on the fake device exactly what they compute on the CPU.
CATALOGUE = [
    LayerCase("prelu", "PReLU", {}, normal(2, 3, 4, 4)),
    LayerCase("elu", "ELU", {}, normal(2, 3, 4)),
    LayerCase("swish", "Swish", {}, normal(2, 3, 4)),
    LayerCase("clip", "Clip", {"min": -0.5, "max": 0.5}, normal(2, 3, 4)),
    LayerCase("gelu", "GELU", {}, normal(2, 3, 4)),
    LayerCase("absval", "AbsVal", {}, normal(2, 3, 4)),
    LayerCase("bnll", "BNLL", {}, normal(2, 3, 4)),
    LayerCase("exp", "Exp", {"base": 2.0, "scale": 0.5}, normal(2, 3, 4)),
    LayerCase("log", "Log", {"shift": 1.0},
              lambda rng, dtype: [np.abs(rng.normal(size=(2, 3, 4)))]),
    LayerCase("threshold", "Threshold", {"threshold": 0.2}, normal(2, 3, 4)),
    LayerCase("power", "Power", {"power": 2.0, "shift": 3.0}, normal(2, 3, 4)),
    LayerCase("permute", "Permute", {"order": [0, 2, 1]}, normal(2, 3, 4)),
    LayerCase("tile", "Tile", {"axis": 1, "tiles": 2}, normal(2, 3, 4)),
    LayerCase("silence", "Silence", {}, normal(2, 3, count=2), num_top=0),
    LayerCase("parameter", "Parameter", {"shape": [2, 3], "filler": {"type": "gaussian"}},
              lambda rng, dtype: []),
    LayerCase("arg_max", "ArgMax", {"top_k": 2, "axis": 1}, normal(2, 4, 3)),
    LayerCase("batch_reindex", "BatchReindex", {},
              lambda rng, dtype: [rng.normal(size=(3, 4)), np.array([2, 0, 2])]),
    LayerCase("filter", "Filter", {},
              lambda rng, dtype: [rng.normal(size=(4, 3)), np.array([1, 0, 1, 1])]),
    LayerCase("roi_pooling", "ROIPooling", {"pooled_h": 2, "pooled_w": 2},
              lambda rng, dtype: [rng.normal(size=(1, 2, 4, 5)),
                                  np.array([[0, 0, 0, 3, 3], [0, 1, 1, 4, 3]])]),
    LayerCase("axpy", "Axpy", {},
              lambda rng, dtype: [rng.normal(size=(2, 3)), rng.normal(size=(2, 3, 4)),
                                  rng.normal(size=(2, 3, 4))]),
    LayerCase("embed", "Embed", {"num_output": 4, "input_dim": 5},
              lambda rng, dtype: [np.array([[3, 1, 3], [0, 4, 3]])]),
    LayerCase("reduction", "Reduction", {"operation": "SUMSQ", "axis": 1}, normal(2, 3, 4)),
    LayerCase("mvn", "MVN", {}, normal(2, 3, 4, 4)),
    LayerCase("normalize", "Normalize", {}, normal(2, 3, 4, 4)),
    LayerCase("layer_norm", "LayerNorm", {}, normal(2, 3, 4)),
    LayerCase("interp", "Interp", {"zoom_factor": 2}, normal(1, 2, 3, 3)),
    LayerCase("upsample", "Upsample", {"mode": "BILINEAR"}, normal(1, 2, 3, 3)),
    LayerCase("sigmoid_xent", "SigmoidCrossEntropyLoss", {},
              lambda rng, dtype: [rng.normal(size=(3, 4)), rng.uniform(size=(3, 4))]),
    LayerCase("smooth_l1", "SmoothL1Loss", {}, normal(3, 4, count=2)),
    LayerCase("hinge", "HingeLoss", {}, labels((4, 5), 5)),
    LayerCase("mlogistic", "MultinomialLogisticLoss", {},
              lambda rng, dtype: [rng.uniform(0.05, 1, (4, 5)), rng.integers(0, 5, 4)]),
    LayerCase("infogain", "InfogainLoss", {},
              lambda rng, dtype: [rng.normal(size=(2, 4, 3)), rng.integers(0, 4, (2, 3)),
                                  rng.uniform(size=(4, 4))]),
    LayerCase("contrastive", "ContrastiveLoss", {"margin": 2.0},
              lambda rng, dtype: [rng.normal(size=(4, 3)), rng.normal(size=(4, 3)),
                                  np.array([1, 0, 0, 1])]),
    LayerCase("lstm", "LSTM", {"num_output": 3,
                               "weight_filler": {"type": "uniform", "min": -0.3, "max": 0.3}},
              lambda rng, dtype: [rng.normal(size=(4, 2, 3)),
                                  np.array([[0, 0], [1, 1], [1, 0], [1, 1]], float)]),
    LayerCase("rnn", "RNN", {"num_output": 3, "expose_hidden": True,
                             "weight_filler": {"type": "uniform", "min": -0.3, "max": 0.3}},
              lambda rng, dtype: [rng.normal(size=(3, 2, 3)), np.array([[0, 0], [1, 1], [1, 0]],
                                                                        float),
                                  rng.normal(size=(1, 2, 3))], num_top=2),
    LayerCase("prior_box", "PriorBox", {"min_size": [4.0], "aspect_ratio": [2.0]},
              lambda rng, dtype: [np.zeros((1, 2, 3, 4)), np.zeros((1, 3, 12, 16))]),
    LayerCase("depthwise", "ConvolutionDepthwise", {"num_output": 3, "kernel_size": 3, "pad": 1},
              normal(2, 3, 5, 5)),
]
for _case in CATALOGUE:
    _case.check_gradient = False
CASES += CATALOGUE


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_layer_case(case, dtype, backend):
    run_case(case, dtype, backend)
