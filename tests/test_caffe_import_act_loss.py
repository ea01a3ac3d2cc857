"""Caffe prototxts using the activation and loss layers import, build and run: their
`*_param` blocks become the layers' flat params with Caffe's meaning."""
import struct

import numpy as np
import pytest

from layerflow import Net
from layerflow.config.caffe_import import import_caffe_text

PROTOTXT = """
name: "acts"
force_backward: true
input: "data" input_shape { dim: 2 dim: 3 dim: 2 dim: 2 }
input: "label" input_shape { dim: 2 }
layer { name: "p" type: "PReLU" bottom: "data" top: "data"
        prelu_param { channel_shared: true filler { type: "constant" value: 0.1 } } }
layer { name: "e" type: "ELU" bottom: "data" top: "e" elu_param { alpha: 0.5 } }
layer { name: "c" type: "Clip" bottom: "e" top: "e" clip_param { min: -0.3 max: 6 } }
layer { name: "pw" type: "Power" bottom: "e" top: "pw" power_param { power: 2 scale: 0.5 shift: 1 } }
layer { name: "x" type: "Exp" bottom: "pw" top: "x" exp_param { base: 2 scale: 0.1 } }
layer { name: "ip" type: "InnerProduct" bottom: "x" top: "ip"
        inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
layer { name: "h" type: "HingeLoss" bottom: "ip" bottom: "label" top: "h"
        hinge_loss_param { norm: L2 } loss_weight: 0.5 }
layer { name: "l" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "l"
        loss_param { ignore_label: 2 normalize: false } }
layer { name: "i" type: "InfogainLoss" bottom: "ip" bottom: "label" top: "i"
        infogain_loss_param { source: "SOURCE" } loss_param { normalization: FULL } }
"""


def binaryproto(h):
    """BlobProto bytes with the old num/channels/height/width fields and float data."""
    head = b"".join(bytes([tag, v]) for tag, v in ((0x08, 1), (0x10, 1), (0x18, h.shape[0]),
                                                   (0x20, h.shape[1])))
    data = struct.pack(f"<{h.size}f", *h.reshape(-1))
    return head + b"\x2a" + bytes([len(data)]) + data


def test_prototxt_with_new_layers_imports_builds_and_trains_a_step(tmp_path):
    h = np.array([[1, 0.5, 0], [0.5, 1, 0], [0, 0, 2]], np.float32)
    (tmp_path / "H.binaryproto").write_bytes(binaryproto(h))
    result = import_caffe_text(PROTOTXT.replace("SOURCE", str(tmp_path / "H.binaryproto")))
    assert result.problems == []
    layers = {l["name"]: l for l in result.config["layers"]}
    assert layers["p"]["filler"] == {"type": "constant", "value": 0.1}
    assert layers["h"]["norm"] == "L2" and layers["l"]["normalize"] is False
    assert layers["i"]["normalization"] == "FULL"
    path = tmp_path / "net.yaml"
    path.write_text(result.to_yaml())
    net = Net(path, dtype=np.float64, seed=0)
    assert net.params["p"][0].shape == () and net.params["p"][0].data == 0.1
    rng = np.random.default_rng(0)
    net.blobs["data"].data[...] = rng.normal(size=(2, 3, 2, 2))
    net.blobs["label"].data[...] = [0, 2]
    net.clear_param_diffs()
    loss = net.forward_backward()
    parts = {k: float(net.blobs[k].data) for k in ("h", "l", "i")}
    assert loss == pytest.approx(0.5 * parts["h"] + parts["l"] + parts["i"], rel=1e-14)
    assert np.isfinite(loss) and np.abs(net.params["p"][0].diff) > 0
    assert np.abs(net.blobs["data"].diff).sum() > 0
