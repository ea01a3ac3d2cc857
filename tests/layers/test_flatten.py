import textwrap

import numpy as np
import pytest

from layerflow import Net
from layerflow.layer import ShapeError

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, torch

RNG = np.random.default_rng(0)
X = (2, 3, 2, 4)


def check_view_gradient(layer, bottom, top):
    check_gradient(layer, bottom, top)


@pytest.mark.parametrize("params", [{}, {"axis": 2}, {"axis": 0, "end_axis": 1}])
def test_flatten_gradient(params):
    layer, bottom, top = make_layer("Flatten", params, [RNG.normal(size=X)])
    check_view_gradient(layer, bottom, top)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis,end_axis", [(1, -1), (1, 2), (-3, -2), (0, -1), (3, 3)])
def test_flatten_matches_torch(dtype, axis, end_axis):
    x = RNG.normal(size=X).astype(dtype)
    layer, bottom, top = make_layer("Flatten", {"axis": axis, "end_axis": end_axis}, [x],
                                    dtype=dtype)
    (y,) = forward(layer, bottom, top)
    dy = RNG.normal(size=y.shape).astype(dtype)
    (dx,), _ = backward(layer, bottom, top, [dy])
    tx = to_torch(x)
    ty = torch.flatten(tx, axis, end_axis)
    ty.backward(torch.tensor(dy))
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(dx, tx.grad.numpy())


def test_flatten_shares_data_and_diff_with_its_bottom():
    layer, bottom, top = make_layer("Flatten", {}, [RNG.normal(size=X)])
    assert np.shares_memory(top[0].data, bottom[0].data)
    assert np.shares_memory(top[0].diff, bottom[0].diff)
    bottom[0].data[0, 0, 0, 0] = 42.0
    assert top[0].data[0, 0] == 42.0


def test_flatten_in_a_net_stays_shared_and_right_when_the_batch_changes(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(textwrap.dedent("""\
        force_backward: true
        layers:
          - {name: data, type: Input, top: x, shape: [2, 3, 2, 2]}
          - {name: target, type: Input, top: t, shape: [2, 2]}
          - {name: flat, type: Flatten, bottom: x, top: f}
          - {name: ip, type: InnerProduct, bottom: f, top: y, num_output: 2}
          - {name: loss, type: EuclideanLoss, bottom: [y, t], top: l}
        """))
    net = Net(path, dtype=np.float64, seed=0)
    w, b = (blob.data for blob in net.params["ip"])
    x_blob, f_blob = net.blobs["x"], net.blobs["f"]
    for n in (2, 5, 3):          # grows (new buffers) and shrinks (reused buffers)
        x_blob.reshape((n, 3, 2, 2))
        net.blobs["t"].reshape((n, 2))
        x = RNG.normal(size=(n, 3, 2, 2))
        x_blob.data[...] = x
        net.blobs["t"].data[...] = 0
        net.forward()
        net.backward()
        assert np.shares_memory(f_blob.data, x_blob.data)
        assert np.shares_memory(f_blob.diff, x_blob.diff)
        y = x.reshape(n, -1) @ w.T + b
        np.testing.assert_allclose(net.blobs["y"].data, y, rtol=1e-12)
        np.testing.assert_allclose(x_blob.diff.reshape(n, -1), (y / n) @ w, rtol=1e-10)


@pytest.mark.parametrize("params", [{"axis": 4}, {"axis": 2, "end_axis": 1},
                                    {"end_axis": -5}])
def test_flatten_bad_axes(params):
    with pytest.raises(ShapeError, match=r"do not name a range.*\[2, 3, 2, 4\]"):
        make_layer("Flatten", params, [np.zeros(X)])
