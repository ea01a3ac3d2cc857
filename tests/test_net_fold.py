"""A forward-only net runs BatchNorm (global statistics) + in-place Scale + ReLU as one pass
(Net._fold_steps, BatchNorm.forward_folded): the same values as the layers one by one, and
only where no other layer or hook could see the values in between."""
import textwrap

import numpy as np
import pytest
import yaml

from layerflow import Net
from layerflow.layers import batch_norm as bn_module
from layerflow.layers.scale import Scale
from layerflow.runtime import Runtime

CONV = "{name: conv, type: Convolution, bottom: x, top: c, num_output: 6, kernel_size: 3}"


def net_of(body, phase="test", dtype=np.float32, threads=1, shape=(2, 3, 9, 9), conv=CONV):
    text = textwrap.dedent(f"""\
        layers:
          - {{name: data, type: Input, top: x, shape: {list(shape)}}}
          - {conv}
        """) + textwrap.indent(textwrap.dedent(body), "  ")
    net = Net(yaml.safe_load(text), phase, dtype=dtype, seed=0,
              runtime=Runtime.create(threads=threads))
    rng = np.random.default_rng(1)
    for layer in net.layers:            # statistics, gammas and betas far from 0 and 1
        if layer.type_name == "BatchNorm":
            c = layer.channels
            layer.blobs[0].data[...] = rng.normal(size=c) * 3
            layer.blobs[1].data[...] = rng.uniform(0.5, 4, c) * 3
            layer.blobs[2].data[...] = 3
        elif layer.type_name == "Scale":
            for blob in layer.blobs:
                blob.data[...] = rng.normal(size=blob.shape)
    net.blobs["x"].data[...] = rng.normal(size=shape)
    return net


class Watch:
    """A hook: with one, the Net runs every layer by itself (the plain loop)."""

    def after_forward(self, net, i):
        pass


def plain_and_folded(net, names):
    net.forward()
    folded = {n: net.blobs[n].data.copy() for n in names}
    hook = net.add_hook(Watch())
    net.forward()
    plain = {n: net.blobs[n].data.copy() for n in names}
    net.remove_hook(hook)
    return plain, folded


def folds(net):
    return [(layer.name, [f.name for f in fold if f is not None])
            for layer, _, _, fold in net._steps if fold is not None]


BN_SCALE_RELU = """\
    - {name: bn, type: BatchNorm, bottom: c, top: c}
    - {name: scale, type: Scale, bottom: c, top: c, bias_term: true}
    - {name: relu, type: ReLU, bottom: c, top: c, negative_slope: 0.1}
    - {name: ip, type: InnerProduct, bottom: c, top: y, num_output: 4}
"""
# the same after a pooling layer: BatchNorm's own step folds Scale and ReLU
POOL_BN_SCALE_RELU = """\
    - {name: pool, type: Pooling, bottom: c, top: p, kernel_size: 2, pool: AVE}
    - {name: bn, type: BatchNorm, bottom: p, top: p}
    - {name: scale, type: Scale, bottom: p, top: p, bias_term: true}
    - {name: relu, type: ReLU, bottom: p, top: p, negative_slope: 0.1}
    - {name: ip, type: InnerProduct, bottom: p, top: y, num_output: 4}
"""


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batchnorm_scale_relu_run_as_one_pass_with_the_same_values(dtype, monkeypatch):
    net = net_of(POOL_BN_SCALE_RELU, dtype=dtype)
    assert folds(net) == [("bn", ["scale", "relu"])]
    calls = []
    monkeypatch.setattr(Scale, "forward_cpu", lambda *a: calls.append(1))
    net.forward()
    assert calls == []                               # Scale's own forward did not run
    monkeypatch.undo()
    plain, folded = plain_and_folded(net, ["c", "p", "y"])
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for name in plain:
        np.testing.assert_allclose(folded[name], plain[name], rtol=tol, atol=tol)
    assert (plain["p"] < 0).any()                   # the leaky slope was exercised


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("conv,how", [
    (CONV, None),                                                  # then a pass of its own
    ("{name: conv, type: Convolution, bottom: x, top: c, num_output: 6, kernel_size: 1,"
     " bias_filler: {type: gaussian}}", "pointwise"),
    ("{name: conv, type: Convolution, bottom: x, top: c, num_output: 6, kernel_size: 1,"
     " stride: 2, bias_term: false}", "pointwise"),
    ("{name: conv, type: Convolution, bottom: x, top: c, num_output: 3, group: 3,"
     " kernel_size: 3, pad: 1, bias_filler: {type: gaussian}}", "depthwise"),
    ("{name: conv, type: ConvolutionDepthwise, bottom: x, top: c, num_output: 6,"
     " kernel_size: 3, stride: 2, bias_term: false}", None),
])
@pytest.mark.parametrize("batch,threads", [(1, 2), (3, 2), (2, 1)])
def test_a_convolution_runs_its_batchnorm_scale_relu_with_the_same_values(
        conv, how, batch, threads, dtype):
    """The convolution before the BatchNorm takes the fold: inside its depthwise and 1x1
    (Pointwise) passes, each thread folding what it wrote; after other ways."""
    net = net_of(BN_SCALE_RELU, dtype=dtype, threads=threads, shape=(batch, 3, 9, 9),
                 conv=conv)
    assert folds(net) == [("conv", ["bn", "scale", "relu"])]
    if how:
        assert how in net.layers[1].algorithm()
    plain, folded = plain_and_folded(net, ["c", "y"])
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for name in plain:
        np.testing.assert_allclose(folded[name], plain[name], rtol=tol, atol=tol)
    assert (plain["c"] < 0).any() and (plain["c"] > 0).any()


def test_out_of_place_batchnorm_leaves_its_bottom_and_folds_relu_without_scale():
    net = net_of("""\
        - {name: bn, type: BatchNorm, bottom: c, top: n}
        - {name: relu, type: ReLU, bottom: n, top: n}
        """)
    assert folds(net) == [("bn", ["relu"])]
    plain, folded = plain_and_folded(net, ["c", "n"])
    np.testing.assert_array_equal(folded["c"], plain["c"])     # the conv's own output
    np.testing.assert_allclose(folded["n"], plain["n"], rtol=1e-5, atol=1e-5)


def test_fresh_statistics_fold_as_they_normalize():
    """A new BatchNorm's factor is 0: mean 0, variance 0 (scale 1/sqrt(eps)), folded too."""
    net = net_of(BN_SCALE_RELU)
    net.layers[2].blobs[2].data[...] = 0
    plain, folded = plain_and_folded(net, ["y"])
    np.testing.assert_allclose(folded["y"], plain["y"], rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("body,expected", [
    # Scale out of place: its bottom c (BatchNorm's output) stays visible to later layers,
    # so only the convolution takes BatchNorm (as in each case but the batch statistics).
    ("""\
        - {name: bn, type: BatchNorm, bottom: c, top: c}
        - {name: scale, type: Scale, bottom: c, top: s}
        - {name: relu, type: ReLU, bottom: s, top: s}
        """, [("conv", ["bn"])]),
    # A layer between: the ReLU is not BatchNorm's next.
    ("""\
        - {name: bn, type: BatchNorm, bottom: c, top: c}
        - {name: pool, type: Pooling, bottom: c, top: p, kernel_size: 2}
        - {name: relu, type: ReLU, bottom: p, top: p}
        """, [("conv", ["bn"])]),
    # BatchNorm out of place: the convolution's own output c stays visible.
    ("""\
        - {name: bn, type: BatchNorm, bottom: c, top: n}
        - {name: ip, type: InnerProduct, bottom: c, top: y, num_output: 2}
        """, []),
    # Batch statistics at test time (use_global_stats false): nothing to fold.
    ("""\
        - {name: bn, type: BatchNorm, bottom: c, top: c, use_global_stats: false}
        - {name: relu, type: ReLU, bottom: c, top: c}
        """, []),
    # A Scale by a second bottom.
    ("""\
        - {name: bn, type: BatchNorm, bottom: c, top: c}
        - {name: g, type: Input, top: g, shape: [[6]]}
        - {name: scale, type: Scale, bottom: [c, g], top: c}
        """, [("conv", ["bn"])]),
    # A Scale over (C, H, W), not one factor per channel: the ReLU after it is not
    # BatchNorm's next layer either.
    ("""\
        - {name: bn, type: BatchNorm, bottom: c, top: c}
        - {name: scale, type: Scale, bottom: c, top: c, num_axes: -1}
        - {name: relu, type: ReLU, bottom: c, top: c}
        """, [("conv", ["bn"])]),
])
def test_only_what_no_other_layer_can_see_is_folded(body, expected):
    net = net_of(body)
    assert folds(net) == expected
    plain, folded = plain_and_folded(net, [n for n in net.blobs])
    for name in plain:
        np.testing.assert_allclose(folded[name], plain[name], rtol=1e-5, atol=1e-5)


def test_nets_that_run_backward_are_not_folded():
    body = BN_SCALE_RELU.replace("BatchNorm, bottom", "BatchNorm, use_global_stats: true, "
                                 "bottom") + """\
    - {name: target, type: Input, top: t, shape: [[2, 4]]}
    - {name: loss, type: EuclideanLoss, bottom: [y, t], top: loss}
"""
    net = net_of(body, phase="train")
    assert net.layers[2].use_global and net.layers[2].need_backward
    assert folds(net) == []


def test_threads_cut_the_folded_pass_with_the_same_values(monkeypatch):
    monkeypatch.setattr(bn_module, "FOLD_SPLIT", 0)
    one = net_of(BN_SCALE_RELU, shape=(3, 3, 9, 9))
    three = net_of(BN_SCALE_RELU, shape=(3, 3, 9, 9), threads=3)
    assert three.layers[2]._fold_parts == 3            # one run of rows per thread
    three.forward()
    one.forward()
    np.testing.assert_array_equal(three.blobs["y"].data, one.blobs["y"].data)


def test_a_solvers_test_net_runs_forward_only_and_folds(tmp_path):
    """The Solver never runs backward on its test net: it is built forward_only, so its
    BatchNorm folds even though the net has a loss (the train net keeps every layer)."""
    from layerflow.solvers import Solver
    layers = yaml.safe_load(textwrap.dedent("""\
        - {name: data, type: Input, top: [x, t], shape: [[2, 3, 9, 9], [2, 4]]}
        - {name: conv, type: Convolution, bottom: x, top: c, num_output: 6, kernel_size: 1}
        - {name: bn, type: BatchNorm, bottom: c, top: c, use_global_stats: true}
        - {name: scale, type: Scale, bottom: c, top: c, bias_term: true}
        - {name: relu, type: ReLU, bottom: c, top: c}
        - {name: ip, type: InnerProduct, bottom: c, top: y, num_output: 4}
        - {name: loss, type: EuclideanLoss, bottom: [y, t], top: loss}
        """))
    solver = Solver({"solver": {"base_lr": 0.01, "max_iter": 1, "test_iter": 1,
                                "test_interval": 1, "snapshot_prefix": str(tmp_path / "s")},
                     "net": {"layers": layers}}, quiet=True)
    assert folds(solver.test_net) == [("conv", ["bn", "scale", "relu"])]
    assert not any(solver.test_net.layer_need_backward)
    assert folds(solver.net) == [] and solver.net.layer_need_backward[1]
    rng = np.random.default_rng(0)
    solver.test_net.blobs["x"].data[...] = rng.normal(size=(2, 3, 9, 9))
    solver.test_net.blobs["t"].data[...] = rng.normal(size=(2, 4))
    folded = solver.test_net.forward()
    plain = Net({"layers": layers}, "test")
    plain.share_params_from(solver.test_net)
    for name in ("x", "t"):
        plain.blobs[name].data[...] = solver.test_net.blobs[name].data
    assert folds(plain) == []
    np.testing.assert_allclose(folded, plain.forward(), rtol=1e-4)
