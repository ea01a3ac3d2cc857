import struct

import numpy as np
import pytest

from .harness import DTYPES, backward, check_gradient, forward, make_layer, to_torch, tol, torch

MODES = ["FULL", "VALID", "BATCH_SIZE", "NONE"]


def inputs(shape=(3, 4, 2), ignore=None, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    labels = rng.integers(0, shape[1], size=(shape[0],) + shape[2:]).astype(float)
    if ignore is not None:
        labels.reshape(-1)[::3] = ignore
    h = rng.uniform(0, 1, size=(shape[1], shape[1])) + np.eye(shape[1])
    return x, labels, h


def reference(tx, labels, h, ignore, mode):
    """-sum H[l, c] log softmax(x)_c over counted positions, / Z (axis 1)."""
    logp = torch.log_softmax(tx, 1).movedim(1, -1).reshape(-1, tx.shape[1])
    lab = labels.reshape(-1).astype(int)
    keep = lab != ignore if ignore is not None else np.ones(lab.size, bool)
    rows = torch.tensor(h, dtype=tx.dtype)[torch.tensor(np.where(keep, lab, 0))]
    total = -(rows * logp).sum(1)[torch.tensor(keep)].sum()
    z = {"FULL": lab.size, "VALID": int(keep.sum()), "BATCH_SIZE": tx.shape[0], "NONE": 1}[mode]
    return total / max(z, 1)


@pytest.mark.parametrize("mode", MODES)
def test_infogain_gradient_with_h_bottom(mode):
    x, labels, h = inputs(ignore=-1)
    layer, bottom, top = make_layer("InfogainLoss", {"normalization": mode, "ignore_label": -1},
                                    [x, labels, h])
    check_gradient(layer, bottom, top, check_bottom=[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_infogain_matches_torch(dtype, mode):
    x, labels, h = inputs(ignore=2)
    x, h = x.astype(dtype), h.astype(dtype)
    layer, bottom, top = make_layer("InfogainLoss", {"normalization": mode, "ignore_label": 2},
                                    [x, labels.astype(dtype), h], num_top=2, dtype=dtype)
    loss, prob = forward(layer, bottom, top)
    (dx, _, _), _ = backward(layer, bottom, top, [np.array(1.0), np.zeros_like(prob)])
    tx = to_torch(x)
    tloss = reference(tx, labels, h, 2, mode)
    tloss.backward()
    np.testing.assert_allclose(loss, tloss.item(), rtol=10 * tol(dtype)[0])
    np.testing.assert_allclose(prob, torch.softmax(tx, 1).detach().numpy(), *tol(dtype))
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=tol(dtype)[0], atol=10 * tol(dtype)[1])


def test_infogain_identity_is_softmax_with_loss():
    x, labels, _ = inputs(shape=(4, 3))
    a = make_layer("InfogainLoss", {}, [x, labels, np.eye(3)])
    b = make_layer("SoftmaxWithLoss", {}, [x, labels])
    np.testing.assert_allclose(forward(*a)[0], forward(*b)[0], rtol=1e-14)
    (da, _, _), _ = backward(*a, [np.array(1.0)])
    (db, _), _ = backward(*b, [np.array(1.0)])
    np.testing.assert_allclose(da, db, rtol=1e-13, atol=1e-15)


def blobproto(h):
    """A BlobProto's bytes, encoded here by hand: shape {dim: 1 dim: 1 dim: C dim: C}, data."""
    def varint(v):
        out = b""
        while True:
            byte, v = v & 0x7F, v >> 7
            out += bytes([byte | (0x80 if v else 0)])
            if not v:
                return out
    dims = b"".join(varint(d) for d in (1, 1) + h.shape)
    shape = b"\x0a" + varint(len(dims)) + dims                 # BlobShape.dim, packed
    data = struct.pack(f"<{h.size}f", *h.reshape(-1))
    return b"\x3a" + varint(len(shape)) + shape + b"\x2a" + varint(len(data)) + data


@pytest.mark.parametrize("kind", ["npy", "npz", "binaryproto"])
def test_infogain_matrix_from_source_file(tmp_path, kind):
    x, labels, h = inputs(shape=(3, 4, 2, 2))
    h = h.astype(np.float32).astype(np.float64)              # what a float BlobProto holds
    path = tmp_path / f"H.{kind}"
    if kind == "npy":
        np.save(path, h)
    elif kind == "npz":
        np.savez(path, H=h, other=np.zeros(2))
    else:
        path.write_bytes(blobproto(h))
    from_file = make_layer("InfogainLoss", {"source": str(path), "axis": 1}, [x, labels])
    from_bottom = make_layer("InfogainLoss", {}, [x, labels, h])
    np.testing.assert_allclose(forward(*from_file)[0], forward(*from_bottom)[0], rtol=1e-14)
    (d1, _), _ = backward(*from_file, [np.array(1.0)])
    (d2, _, _), _ = backward(*from_bottom, [np.array(1.0)])
    np.testing.assert_allclose(d1, d2, rtol=1e-13, atol=1e-15)
    layer, bottom, top = from_file
    check_gradient(layer, bottom, top, check_bottom=[0])


def test_infogain_on_another_axis():
    x, _, _ = inputs(shape=(2, 3, 4))
    _, _, h = inputs(shape=(2, 4))
    labels = np.random.default_rng(1).integers(0, 4, size=(2, 3)).astype(float)
    layer, bottom, top = make_layer("InfogainLoss", {"axis": -1}, [x, labels, h])
    (loss,) = forward(layer, bottom, top)
    tx = to_torch(np.moveaxis(x, 2, 1).copy())
    expected = reference(tx, labels, h, None, "VALID")
    np.testing.assert_allclose(loss, expected.item(), rtol=1e-12)


def test_infogain_errors_name_file_and_shapes(tmp_path):
    from layerflow.config import ConfigError
    from layerflow.layer import ShapeError
    x, labels, h = inputs()
    with pytest.raises(ShapeError, match="third bottom or as 'source'"):
        make_layer("InfogainLoss", {}, [x, labels])
    with pytest.raises(ShapeError, match=r"infogain matrix file '.*missing.npy' not found"):
        make_layer("InfogainLoss", {"source": str(tmp_path / "missing.npy")}, [x, labels])
    (tmp_path / "bad.binaryproto").write_bytes(b"\x0a\xff")
    with pytest.raises(ShapeError, match=r"bad.binaryproto' \(.npy, .npz or Caffe"):
        make_layer("InfogainLoss", {"source": str(tmp_path / "bad.binaryproto")}, [x, labels])
    with pytest.raises(ShapeError, match=r"bottom 'bottom2'\) of shape \[3, 3\] must hold 4 x 4"):
        make_layer("InfogainLoss", {}, [x, labels, np.eye(3)])
    with pytest.raises(ConfigError, match="'normalize' is deprecated"):
        make_layer("InfogainLoss", {"normalize": True}, [x, labels, h])
