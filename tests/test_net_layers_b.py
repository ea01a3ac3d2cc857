"""Part-B layers inside a Net: in-place BatchNorm/Scale/ReLU chains, a residual Eltwise,
Slice/Concat/Flatten, checked against PyTorch, and a few SGD steps with the Solver."""

import numpy as np
import pytest

from layerflow import Net
from layerflow.solvers import Solver

from tests.layers.harness import torch  # a stand-in that skips the reference without it
F = torch.nn.functional

NET = """\
force_backward: true
layers:
  - {name: data, type: Input, top: [x, label], shape: [[4, 6, 3, 3], [4]]}
  - {name: bn1, type: BatchNorm, bottom: x, top: bn1}
  - {name: sc1, type: Scale, bottom: bn1, top: bn1, bias_term: true,
     filler: {type: gaussian, mean: 1, std: 0.3}, bias_filler: {type: gaussian, std: 0.3}}
  - {name: relu1, type: ReLU, bottom: bn1, top: bn1}
  - {name: norm1, type: LRN, bottom: bn1, top: norm1, local_size: 3, alpha: 0.5, k: 2}
  - {name: res, type: Eltwise, bottom: [x, norm1], top: res, coeff: [1, 0.5]}
  - {name: cut, type: Slice, bottom: res, top: [a, b], slice_point: [2]}
  - {name: cat, type: Concat, bottom: [b, a], top: cat}
  - {name: bn2, type: BatchNorm, bottom: cat, top: cat}
  - {name: sc2, type: Scale, bottom: cat, top: cat, bias_term: true,
     filler: {type: gaussian, mean: 1, std: 0.3}, bias_filler: {type: gaussian, std: 0.3}}
  - {name: flat, type: Flatten, bottom: cat, top: flat}
  - {name: ip, type: InnerProduct, bottom: flat, top: ip, num_output: 3,
     bias_filler: {type: gaussian, std: 0.1}}
  - {name: loss, type: SoftmaxWithLoss, bottom: [ip, label], top: loss}
"""


def torch_net(x, label, p):
    """The same net in PyTorch; p maps layer name -> list of tensors (Caffe's blob order)."""
    def bn_scale(h, sc):
        h = F.batch_norm(h, None, None, training=True, eps=1e-5)
        return h * p[sc][0].reshape(1, -1, 1, 1) + p[sc][1].reshape(1, -1, 1, 1)
    h = F.relu(bn_scale(x, "sc1"))
    h = F.local_response_norm(h, 3, alpha=0.5, beta=0.75, k=2.0)
    res = x + 0.5 * h
    cat = torch.cat([res[:, 2:], res[:, :2]], dim=1)
    flat = bn_scale(cat, "sc2").flatten(1)
    return F.cross_entropy(F.linear(flat, p["ip"][0], p["ip"][1]), label)


def test_net_forward_backward_matches_torch(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(NET)
    net = Net(path, dtype=np.float64, seed=3)
    rng = np.random.default_rng(0)
    x_blob, label_blob = net.top_vecs[0]
    x = rng.normal(size=x_blob.shape) * 2 + 0.5
    label = np.array([0, 2, 1, 2])
    x_blob.data[...] = x
    label_blob.data[...] = label
    for blob in (p.blob for p in net.learnable_params()):
        blob.diff[...] = 0
    loss = net.forward()
    net.backward()
    tx = torch.tensor(x, requires_grad=True)
    tp = {name: [torch.tensor(b.data.copy(), requires_grad=True) for b in blobs]
          for name, blobs in net.params.items() if name in ("sc1", "sc2", "ip")}
    tloss = torch_net(tx, torch.tensor(label), tp)
    tloss.backward()
    assert loss == pytest.approx(tloss.item(), rel=1e-12)
    np.testing.assert_allclose(x_blob.diff, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    for name, tensors in tp.items():
        for blob, t in zip(net.params[name], tensors):
            np.testing.assert_allclose(blob.diff, t.grad.numpy(), rtol=1e-9, atol=1e-12,
                                       err_msg=name)
    # the running statistics saw this batch (and are not learnable)
    bn1 = net.layers[net.layer_names.index("bn1")]
    assert bn1.blobs[2].data[0] == 1.0
    np.testing.assert_allclose(bn1.blobs[0].data, x.mean(axis=(0, 2, 3)), rtol=1e-12)


RESIDUAL = """\
name: residual-mlp
solver:
  type: SGD
  base_lr: 0.1
  momentum: 0.9
  max_iter: 40
  random_seed: 5
  snapshot_prefix: {prefix}
net:
  layers:
    - name: data
      type: DummyData
      top: [data, label]
      shape: [[32, 8], [32]]
      data_filler: [{{type: gaussian, std: 1}}, {{type: uniform, min: 0, max: 3.999}}]
    - {{name: ip1, type: InnerProduct, bottom: data, top: ip1, num_output: 8}}
    - {{name: bn1, type: BatchNorm, bottom: ip1, top: ip1}}
    - {{name: sc1, type: Scale, bottom: ip1, top: ip1, bias_term: true}}
    - {{name: relu1, type: ReLU, bottom: ip1, top: ip1}}
    - {{name: res, type: Eltwise, bottom: [data, ip1], top: res}}
    - {{name: cat, type: Concat, bottom: [res, data], top: cat}}
    - {{name: ip2, type: InnerProduct, bottom: cat, top: ip2, num_output: 4}}
    - {{name: loss, type: SoftmaxWithLoss, bottom: [ip2, label], top: loss}}
"""


def test_residual_net_trains_with_sgd_and_tests_with_stored_stats(tmp_path):
    path = tmp_path / "solver.yaml"
    path.write_text(RESIDUAL.format(prefix=tmp_path / "snap"))
    solver = Solver(path, quiet=True)
    first = solver.net.forward()
    solver.step(40)
    last = solver.net.forward()
    assert last < 0.5 * first, (first, last)      # 32 fixed samples: it memorizes them
    bn = solver.net.layers[solver.net.layer_names.index("bn1")]
    assert bn.blobs[2].data[0] > 40                # the running sums moved every forward
    lr = {p.key: p.lr_mult for p in solver.net.learnable_params()}
    assert lr["bn1/0"] == lr["bn1/1"] == lr["bn1/2"] == 0.0 and lr["sc1/0"] == 1.0
    # a TEST net sharing the params normalizes with the stored statistics, not the batch's
    test = Net(path, "test", seed=5)
    test.share_params_from(solver.net)
    test_bn = test.layers[test.layer_names.index("bn1")]
    assert test_bn.blobs[0] is bn.blobs[0]
    test.forward()
    ip1 = test.layers[test.layer_names.index("ip1")]
    h = test.blobs["data"].data @ ip1.blobs[0].data.T + ip1.blobs[1].data
    f = bn.blobs[2].data[0]
    mean, var = bn.blobs[0].data / f, bn.blobs[1].data / f
    sc = test.layers[test.layer_names.index("sc1")].blobs
    expected = np.maximum((h - mean) / np.sqrt(var + 1e-5) * sc[0].data + sc[1].data, 0)
    np.testing.assert_allclose(test.blobs["ip1"].data, expected, rtol=1e-4, atol=1e-5)
    assert test_bn.blobs[2].data[0] == bn.blobs[2].data[0]   # TEST forward left them alone
