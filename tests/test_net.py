"""Net building: splits, in-place, backward marking, loss weights, sharing, weights files."""
import textwrap

import numpy as np
import pytest

from layerflow import Net
from layerflow.io.weights import WeightsFileError

from tests.layers.harness import torch  # a stand-in that skips the reference without it

DAG = """\
force_backward: true
layers:
  - {name: data, type: Input, top: [x, label], shape: [[5, 6], [5]]}
  - {name: ip1, type: InnerProduct, bottom: x, top: h, num_output: 4,
     bias_filler: {type: gaussian}}
  - {name: act, type: TanH, bottom: h, top: h}
  - {name: ip2, type: InnerProduct, bottom: h, top: a, num_output: 3}
  - {name: ip3, type: InnerProduct, bottom: h, top: b, num_output: 3}
  - {name: lossa, type: SoftmaxWithLoss, bottom: [a, label], top: la}
  - {name: lossb, type: EuclideanLoss, bottom: [b, x3], top: lb, loss_weight: 0.5}
  - {name: slice, type: InnerProduct, bottom: x, top: x3, num_output: 3,
     param: [{lr_mult: 0}, {lr_mult: 0}]}
"""


def build(text, **kw):
    return Net(textwrap.dedent(text) if isinstance(text, str) and "\n" in text else text, **kw)


def net_from(tmp_path, text, **kw):
    path = tmp_path / "net.yaml"
    path.write_text(textwrap.dedent(text))
    return Net(path, **kw)


def dag_text():
    # x3 must exist before lossb reads it: put the slice layer first among consumers.
    lines = DAG.splitlines()
    slice_layer = lines[-2:]
    return "\n".join(lines[:3] + slice_layer + lines[3:-2]) + "\n"


def test_split_inserted_where_a_top_feeds_several_layers(tmp_path):
    net = net_from(tmp_path, dag_text(), dtype=np.float64, seed=0)
    types = [l.type_name for l in net.layers]
    assert types.count("Split") == 2          # x feeds ip1 and slice; h feeds ip2 and ip3
    assert "h_ip1_split" not in net.layer_names  # h is split after the in-place TanH
    assert "h_act_split" in net.layer_names


def test_dag_forward_backward_matches_torch(tmp_path):
    net = net_from(tmp_path, dag_text(), dtype=np.float64, seed=0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 6))
    label = rng.integers(0, 3, 5).astype(np.float64)
    net.blobs["x"].data[...] = x
    net.blobs["label"].data[...] = label
    net.clear_param_diffs()
    loss = net.forward_backward()

    P = {k: [torch.tensor(b.data.copy(), requires_grad=True) for b in v]
         for k, v in net.params.items()}
    tx = torch.tensor(x, requires_grad=True)
    h = torch.tanh(torch.nn.functional.linear(tx, *P["ip1"]))
    a = torch.nn.functional.linear(h, *P["ip2"])
    b = torch.nn.functional.linear(h, *P["ip3"])
    x3 = torch.nn.functional.linear(tx, *P["slice"])
    tloss = torch.nn.functional.cross_entropy(a, torch.tensor(label).long()) + \
        0.5 * ((b - x3) ** 2).sum() / (2 * 5)
    tloss.backward()
    assert loss == pytest.approx(tloss.item(), rel=1e-12)
    np.testing.assert_allclose(net.blobs["x"].diff, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name in ("ip1", "ip2", "ip3"):
        for ours, theirs in zip(net.params[name], P[name]):
            np.testing.assert_allclose(ours.diff, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)
    # lr_mult 0 params get no update need, but the bottom still needs the gradient
    assert net.layer_need_backward[net.layer_names.index("slice")]


MLP = """\
layers:
  - {name: data, type: Input, top: [x, label], shape: [[4, 5], [4]]}
  - {name: ip1, type: InnerProduct, bottom: x, top: h, num_output: 3}
  - {name: relu, type: ReLU, bottom: h, top: h}
  - {name: ip2, type: InnerProduct, bottom: h, top: y, num_output: 2}
  - {name: loss, type: SoftmaxWithLoss, bottom: [y, label], top: loss}
"""


def test_in_place_layer_shares_blob_and_backward_marking(tmp_path):
    net = net_from(tmp_path, MLP)
    relu = net.layer_names.index("relu")
    assert net.bottom_vecs[relu][0] is net.top_vecs[relu][0]
    assert net.layer_need_backward == [False, True, True, True, True]
    assert net.bottom_need_backward[1] == [False]          # no gradient into the data
    assert net.bottom_need_backward[4] == [True, False]    # labels never get one


def test_force_backward_reaches_inputs(tmp_path):
    net = net_from(tmp_path, "force_backward: true\n" + MLP.replace("ReLU", "TanH"), seed=0)
    assert net.bottom_need_backward[1] == [True]
    net.blobs["x"].data[...] = np.random.default_rng(0).normal(size=(4, 5))
    net.forward_backward()
    assert np.abs(net.blobs["x"].diff).sum() > 0


def test_propagate_down_false_stops_gradient(tmp_path):
    net = net_from(tmp_path, MLP.replace("num_output: 2}", "num_output: 2, propagate_down: false}"))
    ip2 = net.layer_names.index("ip2")
    assert net.bottom_need_backward[ip2] == [False]
    assert net.layer_need_backward[ip2]                    # its own params still learn
    assert not net.layer_need_backward[net.layer_names.index("relu")]
    assert not net.layer_need_backward[net.layer_names.index("ip1")]


def test_loss_weight_scales_loss_and_gradients(tmp_path):
    a = net_from(tmp_path, MLP, seed=3, dtype=np.float64)
    b = net_from(tmp_path, MLP.replace("top: loss}", "top: loss, loss_weight: 2.5}"), seed=3,
                 dtype=np.float64)
    for net in (a, b):
        net.blobs["x"].data[...] = np.arange(20).reshape(4, 5) / 20
        net.blobs["label"].data[...] = [0, 1, 1, 0]
        net.clear_param_diffs()
    la, lb = a.forward_backward(), b.forward_backward()
    assert lb == pytest.approx(2.5 * la)
    np.testing.assert_allclose(b.params["ip1"][0].diff, 2.5 * a.params["ip1"][0].diff)


def test_named_params_are_shared_and_accumulate(tmp_path):
    net = net_from(tmp_path, """\
        layers:
          - {name: data, type: Input, top: [x, t], shape: [[2, 3], [2, 3]]}
          - {name: ip1, type: InnerProduct, bottom: x, top: y1, num_output: 3,
             param: [{name: w}, {name: b}]}
          - {name: ip2, type: InnerProduct, bottom: y1, top: y2, num_output: 3,
             param: [{name: w}, {name: b}]}
          - {name: loss, type: EuclideanLoss, bottom: [y2, t], top: loss}
        """)
    assert net.params["ip1"][0] is net.params["ip2"][0]
    assert len(net.learnable_params()) == 2


def test_shared_param_shape_mismatch_is_an_error(tmp_path):
    from layerflow import ConfigError
    with pytest.raises(ConfigError, match=r"shared param 'w' has shape \[2, 3\].*\[3, 3\]"):
        net_from(tmp_path, """\
            layers:
              - {name: data, type: Input, top: x, shape: [2, 3]}
              - {name: ip1, type: InnerProduct, bottom: x, top: y1, num_output: 3,
                 param: [{name: w}]}
              - {name: ip2, type: InnerProduct, bottom: y1, top: y2, num_output: 2,
                 param: [{name: w}]}
            """)


def test_phase_and_stage_rules(tmp_path):
    text = MLP + (
        "  - {name: acc, type: Accuracy, bottom: [y, label], top: acc, include: {phase: TEST}}\n"
        "  - {name: extra, type: Sigmoid, bottom: y, top: s, include: {stage: [debug]}}\n")
    assert "acc" not in net_from(tmp_path, text, phase="train").layer_names
    test_net = net_from(tmp_path, text, phase="test")
    assert "acc" in test_net.layer_names and "extra" not in test_net.layer_names
    assert "extra" in net_from(tmp_path, text, phase="test", stages=("debug",)).layer_names


def test_save_and_copy_from_round_trip(tmp_path):
    a = net_from(tmp_path, MLP, seed=1)
    b = net_from(tmp_path, MLP, seed=2)
    assert not np.array_equal(a.params["ip1"][0].data, b.params["ip1"][0].data)
    a.save(tmp_path / "w.npz")
    b.copy_from(tmp_path / "w.npz")
    for la, lb in zip(a.params.values(), b.params.values()):
        for x, y in zip(la, lb):
            np.testing.assert_array_equal(x.data, y.data)
    c = net_from(tmp_path, MLP.replace("num_output: 3", "num_output: 4"))
    with pytest.raises(WeightsFileError, match=r"w.npz: 'ip1/0' has shape \[3, 5\].*\[4, 5\]"):
        c.copy_from(tmp_path / "w.npz")
    np.savez(tmp_path / "other.npz", **{"conv1/0": np.ones(3)})
    with pytest.raises(WeightsFileError, match="other.npz: none of its arrays names a param"):
        c.copy_from(tmp_path / "other.npz")


def test_corrupt_weights_files_are_named(tmp_path):
    net = net_from(tmp_path, MLP)
    net.save(tmp_path / "w.npz")
    data = (tmp_path / "w.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsFileError, match="cut.npz: not a valid .npz"):
        net.copy_from(tmp_path / "cut.npz")
    np.savez(tmp_path / "foreign.npz", a=np.ones(3))
    with pytest.raises(WeightsFileError, match="foreign.npz: none of its arrays names a param"):
        net.copy_from(tmp_path / "foreign.npz")
    np.savez(tmp_path / "pickled.npz", **{"ip1/0": np.array([{"x": 1}], dtype=object)})
    with pytest.raises(WeightsFileError, match="pickled.npz: holds pickled objects"):
        net.copy_from(tmp_path / "pickled.npz")
    with pytest.raises(WeightsFileError, match="missing.npz: no such file"):
        net.copy_from(tmp_path / "missing.npz")


def test_reshape_propagates_new_batch_size(tmp_path):
    net = net_from(tmp_path, MLP)
    net.blobs["x"].reshape((7, 5))
    net.blobs["label"].reshape((7,))
    net.reshape()
    net.forward()
    assert net.blobs["y"].shape == (7, 2)


def test_whole_net_gradient_check_float64(tmp_path):
    """Central differences on the net loss w.r.t. the inputs and every param."""
    net = net_from(tmp_path, "force_backward: true\n" + MLP.replace("ReLU", "TanH"),
                   dtype=np.float64, seed=0)
    rng = np.random.default_rng(0)
    net.blobs["x"].data[...] = rng.normal(size=(4, 5))
    net.blobs["label"].data[...] = [0, 1, 1, 0]
    net.clear_param_diffs()
    net.forward_backward()
    blobs = [net.blobs["x"]] + [b for bl in net.params.values() for b in bl]
    analytic = [b.diff.copy() for b in blobs]
    for blob, grad in zip(blobs, analytic):
        flat = blob.data.reshape(-1)
        for j in range(flat.size):
            x0 = flat[j]
            flat[j] = x0 + 1e-6
            plus = net.forward()
            flat[j] = x0 - 1e-6
            minus = net.forward()
            flat[j] = x0
            assert (plus - minus) / 2e-6 == pytest.approx(grad.reshape(-1)[j], abs=1e-7)
