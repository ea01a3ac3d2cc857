"""Caffe's loss layers inside small YAML nets: loss weights, ignore labels and the backward
pass into InnerProduct weights (shared ones too) against PyTorch."""
import textwrap

import numpy as np
import pytest

from layerflow import Net

from tests.layers.harness import torch  # a stand-in that skips the reference without it

TWO_LOSSES = """\
layers:
  - {name: data, type: Input, top: [x, label, target], shape: [[5, 6], [5], [5, 3]]}
  - {name: ip1, type: InnerProduct, bottom: x, top: h, num_output: 4,
     weight_filler: {type: gaussian, std: 0.5}, bias_filler: {type: gaussian, std: 0.1}}
  - {name: prelu, type: PReLU, bottom: h, top: h}
  - {name: ip2, type: InnerProduct, bottom: h, top: recon, num_output: 3,
     weight_filler: {type: xavier}}
  - {name: ip3, type: InnerProduct, bottom: h, top: scores, num_output: 3,
     weight_filler: {type: xavier}}
  - {name: xent, type: SigmoidCrossEntropyLoss, bottom: [recon, target], top: xent,
     loss_weight: 0.5}
  - {name: cls, type: SoftmaxWithLoss, bottom: [scores, label], top: cls, loss_weight: 2,
     ignore_label: -1, normalization: FULL}
"""

SIAMESE = """\
layers:
  - {name: data, type: Input, top: [a, b, sim], shape: [[6, 5], [6, 5], [6]]}
  - {name: feat, type: InnerProduct, bottom: a, top: fa, num_output: 2,
     weight_filler: {type: gaussian, std: 0.5}, param: [{name: w}, {name: bias}]}
  - {name: feat_p, type: InnerProduct, bottom: b, top: fb, num_output: 2,
     weight_filler: {type: gaussian, std: 0.5}, param: [{name: w}, {name: bias}]}
  - {name: loss, type: ContrastiveLoss, bottom: [fa, fb, sim], top: loss, margin: 1.0,
     loss_weight: 3}
"""


def build(text, tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(textwrap.dedent(text))
    return Net(path, dtype=np.float64, seed=1)


def test_sigmoid_xent_and_softmax_loss_weights_reach_inner_product(tmp_path):
    F = torch.nn.functional
    net = build(TWO_LOSSES, tmp_path)
    rng = np.random.default_rng(0)
    x, target = rng.normal(size=(5, 6)), rng.uniform(size=(5, 3))
    label = np.array([0, 2, -1, 1, -1], float)
    for name, value in (("x", x), ("label", label), ("target", target)):
        net.blobs[name].data[...] = value
    net.clear_param_diffs()
    loss = net.forward_backward()

    P = {k: [torch.tensor(b.data.copy(), requires_grad=True) for b in v]
         for k, v in net.params.items()}
    h = F.prelu(F.linear(torch.tensor(x), *P["ip1"]), P["prelu"][0])
    xent = F.binary_cross_entropy_with_logits(F.linear(h, *P["ip2"]), torch.tensor(target),
                                              reduction="sum") / 5          # BATCH_SIZE
    cls = F.cross_entropy(F.linear(h, *P["ip3"]), torch.tensor(label).long(), ignore_index=-1,
                          reduction="sum") / 5                              # FULL: 5 positions
    tloss = 0.5 * xent + 2 * cls
    tloss.backward()
    assert loss == pytest.approx(tloss.item(), rel=1e-12)
    for name in ("ip1", "prelu", "ip2", "ip3"):
        for ours, theirs in zip(net.params[name], P[name]):
            np.testing.assert_allclose(ours.diff, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_contrastive_loss_in_a_siamese_net_with_shared_weights(tmp_path):
    F = torch.nn.functional
    net = build(SIAMESE, tmp_path)
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    sim = np.array([1, 0, 0, 1, 0, 1], float)
    for name, value in (("a", a), ("b", b), ("sim", sim)):
        net.blobs[name].data[...] = value
    net.clear_param_diffs()
    loss = net.forward_backward()

    w, bias = (torch.tensor(t.data.copy(), requires_grad=True) for t in net.params["feat"])
    fa, fb = F.linear(torch.tensor(a), w, bias), F.linear(torch.tensor(b), w, bias)
    dist_sq = ((fa - fb) ** 2).sum(1)
    per_pair = torch.where(torch.tensor(sim) != 0, dist_sq,
                           torch.clamp(1.0 - dist_sq.sqrt(), min=0) ** 2)
    tloss = 3 * per_pair.sum() / (2 * 6)
    tloss.backward()
    assert loss == pytest.approx(tloss.item(), rel=1e-12)
    # one weight blob, its diff the sum of both branches'. Caffe's 1e-4 in the dissimilar
    # gradient's denominator departs from the exact derivative by about 1e-4 / D relative.
    assert net.params["feat"][0] is net.params["feat_p"][0]
    for ours, theirs in zip(net.params["feat"], (w.grad.numpy(), bias.grad.numpy())):
        np.testing.assert_allclose(ours.diff, theirs, rtol=0, atol=1e-3 * np.abs(theirs).max() + 1e-12)
