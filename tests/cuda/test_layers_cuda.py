"""Layers in CUDA mode (their GPU twins on the CUDA kernels; Numba's simulator without a
GPU) against the same layers in CPU mode: tops, bottom diffs and param diffs."""
import numpy as np
import pytest

from layerflow.runtime import Runtime
from tests.layers.harness import make_layer

pytestmark = pytest.mark.cuda


def normal(*shapes):
    return lambda rng: [rng.normal(size=s) for s in shapes]


def positive(*shapes):
    return lambda rng: [np.abs(rng.normal(size=s)) + 0.2 for s in shapes]


def with_labels(shape, classes):
    return lambda rng: [rng.normal(size=shape), rng.integers(0, classes, shape[0])]


CASES = {   # id: (type, params, inputs, number of tops)
    "relu": ("ReLU", {"negative_slope": 0.1}, normal((2, 3, 5)), 1),
    "sigmoid": ("Sigmoid", {}, normal((2, 19)), 1),
    "tanh": ("TanH", {}, normal((2, 19)), 1),
    "softmax": ("Softmax", {}, normal((3, 5, 2)), 1),
    "softmax_loss": ("SoftmaxWithLoss", {}, with_labels((4, 5), 5), 1),
    "accuracy": ("Accuracy", {"top_k": 2}, with_labels((6, 5), 5), 1),
    "euclidean": ("EuclideanLoss", {}, normal((3, 4), (3, 4)), 1),
    "inner_product": ("InnerProduct", {"num_output": 5, "bias_filler": {"type": "gaussian"}},
                      normal((3, 2, 3)), 1),
    "ip_transpose": ("InnerProduct", {"num_output": 4, "transpose": True}, normal((3, 7)), 1),
    "convolution": ("Convolution", {"num_output": 3, "kernel_size": 3, "pad": 1,
                                    "bias_filler": {"type": "gaussian"}}, normal((2, 2, 5, 4)), 1),
    "grouped_conv": ("Convolution", {"num_output": 4, "kernel_size": 2, "stride": 2,
                                     "group": 2}, normal((1, 4, 5, 4)), 1),
    "deconvolution": ("Deconvolution", {"num_output": 2, "kernel_size": 3, "stride": 2,
                                        "bias_filler": {"type": "gaussian"}},
                      normal((1, 3, 3, 4)), 1),
    "grouped_deconv": ("Deconvolution", {"num_output": 4, "kernel_size": 2, "group": 2},
                       normal((2, 2, 3, 2)), 1),
    "max_pool": ("Pooling", {"pool": "MAX", "kernel_size": 3, "stride": 2},
                 normal((2, 2, 6, 5)), 2),
    "ave_pool": ("Pooling", {"pool": "AVE", "kernel_size": 3, "stride": 2, "pad": 1},
                 normal((1, 2, 6, 5)), 1),
    "split": ("Split", {}, normal((2, 7)), 3),
    "eltwise_sum": ("Eltwise", {"coeff": [1.0, -2.0, 0.5]}, normal((2, 5), (2, 5), (2, 5)), 1),
    "eltwise_max": ("Eltwise", {"operation": "MAX"}, normal((2, 5), (2, 5), (2, 5)), 1),
    "eltwise_prod": ("Eltwise", {"operation": "PROD"}, normal((2, 5), (2, 5)), 1),
    "bias": ("Bias", {}, normal((2, 3, 4), (3,)), 1),
    "scale": ("Scale", {"bias_term": True, "filler": {"type": "gaussian"},
                        "bias_filler": {"type": "gaussian"}}, normal((2, 3, 4)), 1),
    "scale_bottom": ("Scale", {}, normal((2, 3, 4), (3,)), 1),
    "concat": ("Concat", {}, normal((2, 3, 2), (2, 1, 2)), 1),
    "slice": ("Slice", {"slice_point": [1, 3]}, normal((2, 4, 3)), 3),
    "batch_norm": ("BatchNorm", {}, normal((4, 3, 2, 2)), 1),
    "batch_norm_global": ("BatchNorm", {"use_global_stats": True}, normal((2, 3, 5)), 1),
    "lrn": ("LRN", {"local_size": 3}, normal((1, 5, 2, 3)), 1),
    "lrn_within": ("LRN", {"local_size": 3, "norm_region": "WITHIN_CHANNEL"},
                   normal((1, 2, 4, 3)), 1),
    "crop": ("Crop", {"axis": 2, "offset": [1, 2]}, normal((1, 2, 5, 6), (1, 1, 3, 3)), 1),
    "elu": ("ELU", {"alpha": 0.7}, normal((2, 19)), 1),
    "prelu": ("PReLU", {"filler": {"type": "uniform", "min": 0.1, "max": 0.4}},
              normal((2, 3, 2, 3)), 1),
    "prelu_shared": ("PReLU", {"channel_shared": True}, normal((2, 3, 5)), 1),
    "swish": ("Swish", {"beta": 1.5}, normal((2, 19)), 1),
    "gelu": ("GELU", {}, normal((2, 19)), 1),
    "gelu_tanh": ("GELU", {"approximate": "tanh"}, normal((2, 19)), 1),
    "absval": ("AbsVal", {}, normal((2, 19)), 1),
    "bnll": ("BNLL", {}, normal((2, 19)), 1),
    "clip": ("Clip", {"min": -0.5, "max": 0.7}, normal((2, 19)), 1),
    "exp": ("Exp", {"base": 2.0, "scale": 0.5, "shift": 0.3}, normal((2, 19)), 1),
    "log": ("Log", {"base": 3.0, "scale": 2.0, "shift": 0.5}, positive((2, 19)), 1),
    "power": ("Power", {"power": 3.0, "scale": 1.5, "shift": 0.5}, positive((2, 19)), 1),
    "power_sqrt": ("Power", {"power": 0.5, "scale": 2.0}, positive((2, 19)), 1),
    "power_constant": ("Power", {"power": 2.0, "scale": 0.0, "shift": 3.0}, normal((2, 5)), 1),
    "threshold": ("Threshold", {"threshold": 0.3}, normal((2, 19)), 1),
    "sigmoid_xent": ("SigmoidCrossEntropyLoss", {"ignore_label": 1},
                     lambda rng: [rng.normal(size=(3, 7)), rng.integers(0, 3, (3, 7))], 1),
    "smooth_l1": ("SmoothL1Loss", {"sigma": 2.0}, normal((3, 7), (3, 7)), 1),
    "smooth_l1_weights": ("SmoothL1Loss", {}, lambda rng: [
        rng.normal(size=(2, 5)), rng.normal(size=(2, 5)), rng.uniform(size=(2, 5)),
        rng.uniform(size=(2, 5))], 1),
    "hinge": ("HingeLoss", {}, with_labels((4, 5), 5), 1),
    "hinge_l2": ("HingeLoss", {"norm": "L2"}, with_labels((4, 5), 5), 1),
    "mlogistic": ("MultinomialLogisticLoss", {},
                  lambda rng: [rng.uniform(0.05, 1, (4, 5)), rng.integers(0, 5, 4)], 1),
    "infogain": ("InfogainLoss", {"ignore_label": 0}, lambda rng: [
        rng.normal(size=(2, 4, 3)), rng.integers(0, 4, (2, 3)), rng.uniform(size=(4, 4))], 1),
    "contrastive": ("ContrastiveLoss", {"margin": 2.0}, lambda rng: [
        rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), np.array([1, 0, 0, 1])], 1),
    "contrastive_legacy": ("ContrastiveLoss", {"legacy_version": True, "margin": 5.0},
                           lambda rng: [rng.normal(size=(4, 3)), rng.normal(size=(4, 3)),
                                        np.array([0, 1, 0, 0])], 1),
    "silence": ("Silence", {}, normal((2, 3), (3,)), 0),
    "tile": ("Tile", {"axis": 1, "tiles": 3}, normal((2, 3, 2)), 1),
    "permute": ("Permute", {"order": [0, 2, 3, 1]}, normal((2, 3, 2, 4)), 1),
    "reduction_asum": ("Reduction", {"operation": "ASUM", "axis": 1}, normal((3, 4, 2)), 1),
    "reduction_mean": ("Reduction", {"operation": "MEAN", "coeff": 2.0}, normal((3, 5)), 1),
    "axpy": ("Axpy", {}, normal((2, 3), (2, 3, 2, 2), (2, 3, 2, 2)), 1),
    "embed": ("Embed", {"num_output": 4, "input_dim": 5,
                        "bias_filler": {"type": "gaussian"}},
              lambda rng: [np.array([[3, 1, 3], [0, 4, 3]])], 1),
    "interp": ("Interp", {"zoom_factor": 2}, normal((1, 2, 3, 4)), 1),
    "interp_shrink": ("Interp", {"shrink_factor": 2, "pad_beg": -1, "pad_end": -1},
                      normal((1, 2, 7, 6)), 1),
    "upsample": ("Upsample", {"scale": 2}, normal((1, 2, 3, 2)), 1),
    "upsample_bilinear": ("Upsample", {"mode": "BILINEAR", "upsample_h": 5, "upsample_w": 7},
                          normal((1, 2, 3, 4)), 1),
    "mvn": ("MVN", {}, normal((2, 3, 2, 3)), 1),
    "mvn_across": ("MVN", {"across_channels": True, "normalize_variance": False},
                   normal((2, 3, 4)), 1),
    "layer_norm": ("LayerNorm", {}, normal((3, 7)), 1),
    "layer_norm_plain": ("LayerNorm", {"axis": 1, "elementwise_affine": False},
                         normal((2, 3, 4)), 1),
    "normalize": ("Normalize", {}, normal((2, 3, 2, 2)), 1),
    "normalize_positions": ("Normalize", {"across_spatial": False, "channel_shared": False,
                                          "scale_filler": {"type": "gaussian"}},
                            normal((2, 3, 2, 3)), 1),
    "prior_box": ("PriorBox", {"min_size": [4.0], "max_size": [9.0], "aspect_ratio": [2.0],
                               "clip": True}, normal((1, 2, 3, 4), (1, 3, 12, 16)), 1),
    "parameter": ("Parameter", {"shape": [2, 3], "filler": {"type": "gaussian"}},
                  lambda rng: [], 1),
    "arg_max": ("ArgMax", {"top_k": 2, "out_max_val": True}, normal((3, 5)), 1),
    "arg_max_axis": ("ArgMax", {"top_k": 2, "axis": 1}, normal((2, 4, 3)), 1),
    "batch_reindex": ("BatchReindex", {}, lambda rng: [rng.normal(size=(3, 2, 2)),
                                                       np.array([2, 0, 2, 2])], 1),
    "filter": ("Filter", {}, lambda rng: [rng.normal(size=(4, 3)), rng.normal(size=(4, 2)),
                                          np.array([1, 0, 1, 1])], 2),
    "roi_pooling": ("ROIPooling", {"pooled_h": 2, "pooled_w": 2, "spatial_scale": 0.5},
                    lambda rng: [rng.normal(size=(2, 2, 4, 5)),
                                 np.array([[0, 0, 0, 7, 5], [1, 2, 1, 9, 7], [0, 1, 1, 4, 4]])],
                    1),
}


def _run(type_name, params, xs, num_top, runtime):
    layer, bottom, top = make_layer(type_name, params, xs, num_top, np.float32,
                                    runtime=runtime)
    layer.reshape(bottom, top)
    layer.forward(bottom, top)
    tops = [t.cpu_data.copy() for t in top]
    rng = np.random.default_rng(1)
    for t in top:
        t.diff[...] = rng.normal(size=t.shape)
    for b in layer.blobs:
        b.diff[...] = 0.5
    layer.backward(top, [layer.can_backprop(i) for i in range(len(bottom))], bottom)
    dxs = [b.cpu_diff.copy() for i, b in enumerate(bottom) if layer.can_backprop(i)]
    return tops, dxs, [b.cpu_diff.copy() for b in layer.blobs]


@pytest.mark.parametrize("case", list(CASES))
def test_layer_cuda_equals_cpu(case):
    type_name, params, inputs, num_top = CASES[case]
    xs = [np.asarray(a, np.float32) for a in inputs(np.random.default_rng(0))]
    want = _run(type_name, params, xs, num_top, None)
    got = _run(type_name, params, xs, num_top, Runtime.create(mode="cuda"))
    for w, g in zip(want, got):
        assert len(w) == len(g)
        for a, b in zip(w, g):
            np.testing.assert_allclose(b, a, rtol=2e-5, atol=2e-6)
