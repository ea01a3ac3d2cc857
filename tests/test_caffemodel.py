"""`.caffemodel` weights: reading (V2, V1 and V0 records, BlobProto shapes old and new,
packed / unpacked floats and doubles), mapping onto a net with shape checks, and the way
back (export-caffe) round-tripping through import-caffe --weights.

The `.caffemodel` bytes here are encoded by the few lines below, not by layerflow's encoder,
and the exported file is parsed with google.protobuf (installed with onnx) from a message
schema built with Caffe's field numbers, so that neither side only checks itself."""
import struct

import numpy as np
import pytest

from layerflow.cli import main
from layerflow.config import load_yaml_text
from layerflow.io.caffemodel import parse_caffemodel, weights_for_net
from layerflow.io.weights import WeightsFileError, load_weights
from layerflow.net import Net


# -- an independent protobuf encoder (just what the tests need) -------------------------------
def varint(n):
    out = b""
    n &= (1 << 64) - 1
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def key(number, wire):
    return varint(number << 3 | wire)


def ld(number, payload):
    payload = payload.encode() if isinstance(payload, str) else payload
    return key(number, 2) + varint(len(payload)) + payload


def vi(number, value):
    return key(number, 0) + varint(value)


def blob_v2(array, packed=True):
    """BlobProto with shape {dim} (7) and float data (5), packed or one fixed32 each."""
    shape = ld(7, b"".join(vi(1, d) for d in array.shape))       # unpacked dims
    flat = np.asarray(array, "<f4").ravel()
    if packed:
        return shape + ld(5, flat.tobytes())
    return shape + b"".join(key(5, 5) + struct.pack("<f", v) for v in flat)


def blob_legacy(array, dims, double=False):
    """BlobProto with num/channels/height/width (1-4) and data or double_data (8)."""
    head = b"".join(vi(i + 1, d) for i, d in enumerate(dims))
    if double:
        return head + ld(8, np.asarray(array, "<f8").ravel().tobytes())
    return head + ld(5, np.asarray(array, "<f4").ravel().tobytes())


def layer_v2(name, ltype, blobs):
    return ld(100, ld(1, name) + ld(2, ltype) + b"".join(ld(7, b) for b in blobs))


def layer_v1(name, enum, blobs):
    return ld(2, ld(4, name) + vi(5, enum) + b"".join(ld(6, b) for b in blobs))


def layer_v0(name, ltype, blobs):
    v0 = ld(1, name) + ld(2, ltype) + b"".join(ld(50, b) for b in blobs)
    return ld(2, ld(1, v0))


IP_NET = """
layers:
  - {name: in, type: Input, top: x, shape: [[2, 4]]}
  - {name: ip, type: InnerProduct, bottom: x, top: y, num_output: 3}
"""


def ip_net():
    return Net(load_yaml_text(IP_NET), "test")


RNG = np.random.default_rng(0)
W = RNG.standard_normal((3, 4)).astype(np.float32)
B = RNG.standard_normal(3).astype(np.float32)


@pytest.mark.parametrize("record", [
    lambda: layer_v2("ip", "InnerProduct", [blob_v2(W), blob_v2(B, packed=False)]),
    lambda: layer_v1("ip", 14, [blob_legacy(W, (1, 1, 3, 4)), blob_legacy(B, (1, 1, 1, 3))]),
    lambda: layer_v1("ip", 14, [blob_legacy(W, (1, 1, 3, 4), double=True),
                                blob_legacy(B, (1, 1, 1, 3), double=True)]),
    lambda: layer_v0("ip", "innerproduct", [blob_legacy(W, (1, 1, 3, 4)),
                                            blob_legacy(B, (1, 1, 1, 3))]),
], ids=["v2-shape-packed-and-unpacked", "v1-legacy-dims", "v1-double-data", "v0-nested"])
def test_blobs_of_every_record_kind_map_to_layer_index(record):
    buf = ld(1, "net") + layer_v2("relu", "ReLU", []) + record()
    layers = parse_caffemodel(buf)
    assert [la.name for la in layers] == ["relu", "ip"]
    arrays, notes = weights_for_net(ip_net(), layers, "m.caffemodel")
    assert set(arrays) == {"ip/0", "ip/1"} and not notes
    np.testing.assert_array_equal(arrays["ip/0"], W)
    np.testing.assert_array_equal(arrays["ip/1"], B)
    assert arrays["ip/0"].dtype == np.float32


def test_v1_enum_types_are_named():
    layers = parse_caffemodel(layer_v1("c", 4, []) + layer_v1("s", 21, []))
    assert [la.type for la in layers] == ["Convolution", "SoftmaxWithLoss"]


def test_shape_mismatch_names_layer_blob_and_both_shapes():
    buf = layer_v2("ip", "InnerProduct", [blob_v2(W.T.copy()), blob_v2(B)])
    with pytest.raises(WeightsFileError) as err:
        weights_for_net(ip_net(), parse_caffemodel(buf), "m.caffemodel")
    msg = str(err.value)
    assert "layer 'ip' blob 0" in msg and "[4, 3]" in msg and "[3, 4]" in msg
    buf = layer_v2("ip", "InnerProduct", [blob_v2(W)])
    with pytest.raises(WeightsFileError, match=r"layer 'ip' has 1 blob\(s\).* has 2"):
        weights_for_net(ip_net(), parse_caffemodel(buf), "m.caffemodel")


def test_singleton_axes_are_accepted_and_missing_layers_noted():
    buf = (layer_v2("ip", "InnerProduct", [blob_v2(W.reshape(1, 3, 4, 1)),
                                           blob_v2(B.reshape(1, 3, 1, 1))])
           + layer_v2("fc_extra", "InnerProduct", [blob_v2(B)]))
    arrays, notes = weights_for_net(ip_net(), parse_caffemodel(buf), "m")
    np.testing.assert_array_equal(arrays["ip/0"], W)
    assert any("fc_extra" in n and "skipped" in n for n in notes)


def test_not_a_caffemodel_is_refused(tmp_path):
    from layerflow.io.caffemodel import read_caffemodel
    bad = tmp_path / "bad.caffemodel"
    bad.write_bytes(b"\x0a\xff\xff\xff\x0f")                     # announces 4 GB
    with pytest.raises(WeightsFileError, match="bad.caffemodel: not a Caffe"):
        read_caffemodel(bad)
    bad.write_bytes(b"")
    with pytest.raises(WeightsFileError, match="empty"):
        read_caffemodel(bad)


BN_PROTOTXT = """
name: "bnnet"
input: "data"
input_shape { dim: 2 dim: 3 dim: 5 dim: 5 }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" }
layer { name: "sc" type: "Scale" bottom: "conv" top: "conv" scale_param { bias_term: true } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
"""


def test_import_caffe_weights_batchnorm_scale_factor_and_scale(tmp_path, capsys):
    conv_w = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32)
    conv_b = RNG.standard_normal(4).astype(np.float32)
    mean_sum = RNG.standard_normal(4).astype(np.float32)
    var_sum = RNG.uniform(1, 2, 4).astype(np.float32)
    factor = np.array([4.0], np.float32)                          # Caffe divides by this
    gamma, beta = RNG.uniform(0.5, 2, 4).astype(np.float32), RNG.standard_normal(4)
    model = (ld(1, "bnnet")
             + layer_v2("conv", "Convolution", [blob_v2(conv_w), blob_v2(conv_b)])
             + layer_v2("bn", "BatchNorm", [blob_v2(mean_sum), blob_v2(var_sum),
                                            blob_v2(factor)])
             + layer_v2("sc", "Scale", [blob_v2(gamma), blob_v2(beta)]))
    (tmp_path / "deploy.prototxt").write_text(BN_PROTOTXT)
    (tmp_path / "m.caffemodel").write_bytes(model)
    out = tmp_path / "model.yaml"
    assert main(["import-caffe", str(tmp_path / "deploy.prototxt"), "--weights",
                 str(tmp_path / "m.caffemodel"), "-o", str(out)]) == 0
    weights = load_weights(tmp_path / "model.weights.npz")
    assert sorted(weights) == ["bn/0", "bn/1", "bn/2", "conv/0", "conv/1", "sc/0", "sc/1"]
    net = Net(str(out), "test", weights=str(tmp_path / "model.weights.npz"))
    x = RNG.standard_normal((2, 3, 5, 5)).astype(np.float32)
    net.blobs["data"].data[...] = x
    net.forward()
    # Caffe's deploy forward, written out: conv, (x - m/f) / sqrt(v/f + eps), gamma, beta, relu
    import torch
    conv = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(conv_w),
                                      torch.from_numpy(conv_b), padding=1).numpy()
    m, v = mean_sum / factor[0], var_sum / factor[0]
    ref = (conv - m[:, None, None]) / np.sqrt(v[:, None, None] + 1e-5)
    ref = np.maximum(ref * gamma[:, None, None] + beta[:, None, None], 0)
    np.testing.assert_allclose(net.blobs["conv"].data, ref, rtol=1e-4, atol=1e-5)


def test_import_caffe_weights_mismatch_is_one_line_error(tmp_path, capsys):
    model = layer_v2("conv", "Convolution", [blob_v2(np.zeros((4, 3, 5, 5), np.float32)),
                                             blob_v2(np.zeros(4, np.float32))])
    (tmp_path / "deploy.prototxt").write_text(BN_PROTOTXT)
    (tmp_path / "m.caffemodel").write_bytes(model)
    assert main(["import-caffe", str(tmp_path / "deploy.prototxt"), "--weights",
                 str(tmp_path / "m.caffemodel"), "-o", str(tmp_path / "o.yaml")]) == 1
    err = capsys.readouterr().err
    assert "layer 'conv' blob 0" in err and "[4, 3, 5, 5]" in err and "[4, 3, 3, 3]" in err
    assert "Traceback" not in err


# -- the way back ------------------------------------------------------------------------------
ROUND_NET = """
name: roundtrip
layers:
  - {name: data, type: DummyData, top: [data, label], shape: [[2, 3, 9, 9], [2]],
     data_filler: [{type: gaussian, std: 1}, {type: uniform, min: 0, max: 4.99}]}
  - {name: conv1, type: Convolution, bottom: data, top: conv1, num_output: 4, kernel_size: 3,
     stride: 1, pad: 1, weight_filler: {type: xavier}, bias_filler: {type: gaussian, std: 0.5},
     param: [{lr_mult: 1}, {lr_mult: 2, decay_mult: 0}]}
  - {name: bn1, type: BatchNorm, bottom: conv1, top: conv1, eps: 0.001}
  - {name: sc1, type: Scale, bottom: conv1, top: conv1, bias_term: true,
     filler: {type: uniform, min: 0.5, max: 1.5}, bias_filler: {type: gaussian, std: 0.3}}
  - {name: relu1, type: ReLU, bottom: conv1, top: conv1, negative_slope: 0.1}
  - {name: pool1, type: Pooling, bottom: conv1, top: pool1, pool: MAX, kernel_size: 3,
     stride: 2, ceil_mode: false}
  - {name: ip1, type: InnerProduct, bottom: pool1, top: ip1, num_output: 5,
     weight_filler: {type: gaussian, std: 0.1}, bias_filler: {type: gaussian, std: 0.1}}
  - {name: prob, type: Softmax, bottom: ip1, top: prob}
  - {name: loss, type: SoftmaxWithLoss, bottom: [ip1, label], top: loss, ignore_label: 3,
     include: {phase: TRAIN}}
"""


def _trained_weights(tmp_path):
    cfg = tmp_path / "net.yaml"
    cfg.write_text(ROUND_NET)
    net = Net(str(cfg), "test", seed=3)
    for layer in net.layers:                                      # nonzero BN statistics
        if layer.type_name == "BatchNorm":
            layer.blobs[0].data[...] = RNG.standard_normal(4)
            layer.blobs[1].data[...] = RNG.uniform(1, 3, 4)
            layer.blobs[2].data[...] = 2.5
    net.save(tmp_path / "w.npz")
    return cfg, net


def _protobuf_schema():
    """NetParameter / LayerParameter / BlobProto / BlobShape with Caffe's field numbers."""
    pytest.importorskip("google.protobuf")
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="caffe_min.proto", package="caffe_min")

    def msg(name, fields):
        m = fdp.message_type.add(name=name)
        for fname, number, ftype, label, tname in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if tname:
                f.type_name = f".caffe_min.{tname}"
            if fname in ("dim", "data") and label == F.LABEL_REPEATED:
                f.options.packed = True
    R, O = F.LABEL_REPEATED, F.LABEL_OPTIONAL
    msg("BlobShape", [("dim", 1, F.TYPE_INT64, R, None)])
    msg("BlobProto", [("shape", 7, F.TYPE_MESSAGE, O, "BlobShape"),
                      ("data", 5, F.TYPE_FLOAT, R, None)])
    msg("LayerParameter", [("name", 1, F.TYPE_STRING, O, None),
                           ("type", 2, F.TYPE_STRING, O, None),
                           ("blobs", 7, F.TYPE_MESSAGE, R, "BlobProto")])
    msg("NetParameter", [("name", 1, F.TYPE_STRING, O, None),
                         ("layer", 100, F.TYPE_MESSAGE, R, "LayerParameter")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("caffe_min.NetParameter"))


def test_export_caffe_writes_what_protobuf_reads(tmp_path):
    cfg, net = _trained_weights(tmp_path)
    out = tmp_path / "deploy.prototxt"
    assert main(["export-caffe", str(cfg), "--weights", str(tmp_path / "w.npz"),
                 "-o", str(out)]) == 0
    NetParameter = _protobuf_schema()
    parsed = NetParameter.FromString((tmp_path / "deploy.caffemodel").read_bytes())
    assert parsed.name == "roundtrip"
    by_name = {la.name: la for la in parsed.layer}
    assert list(by_name) == ["conv1", "bn1", "sc1", "ip1"]
    assert by_name["bn1"].type == "BatchNorm" and len(by_name["bn1"].blobs) == 3
    for layer in net.layers:
        for i, blob in enumerate(layer.blobs):
            theirs = by_name[layer.name].blobs[i]
            assert tuple(theirs.shape.dim) == blob.shape
            np.testing.assert_array_equal(np.array(theirs.data, np.float32), blob.data.ravel())
    text = out.read_text()
    assert 'type: "DummyData"' in text and "refill" not in text
    assert "dummy_data_param {\n    shape { dim: 2 dim: 3 dim: 9 dim: 9 }\n    shape { dim: 2 }" \
        in text
    assert "round_mode: FLOOR" in text and "ceil_mode" not in text
    assert "pool: MAX" in text and "SoftmaxWithLoss" not in text   # TRAIN-only loss left out
    assert "param {\n    lr_mult: 2\n    decay_mult: 0\n  }" in text


def test_export_then_import_gives_identical_weights_and_outputs(tmp_path):
    cfg, net = _trained_weights(tmp_path)
    out = tmp_path / "deploy.prototxt"
    assert main(["export-caffe", str(cfg), "--weights", str(tmp_path / "w.npz"),
                 "-o", str(out)]) == 0
    back = tmp_path / "back.yaml"
    assert main(["import-caffe", str(out), "--weights", str(tmp_path / "deploy.caffemodel"),
                 "-o", str(back)]) == 0
    original, imported = load_weights(tmp_path / "w.npz"), load_weights(
        tmp_path / "back.weights.npz")
    assert sorted(original) == sorted(imported)
    for k in original:
        np.testing.assert_array_equal(original[k], imported[k])
    net2 = Net(str(back), "test", weights=str(tmp_path / "back.weights.npz"))
    x = RNG.standard_normal((2, 3, 9, 9)).astype(np.float32)
    for n in (net, net2):
        n.blobs["data"].data[...] = x
        n.forward()
    assert net2.blobs["pool1"].shape == net.blobs["pool1"].shape == (2, 4, 4, 4)
    np.testing.assert_array_equal(net2.blobs["prob"].data, net.blobs["prob"].data)


def test_export_turns_layerflow_data_layers_into_input(tmp_path, mnist_data):
    from layerflow.config.caffe_import import import_caffe
    cfg = tmp_path / "lenet.yaml"
    cfg.write_text(ROUND_NET.replace(
        """{name: data, type: DummyData, top: [data, label], shape: [[2, 3, 9, 9], [2]],
     data_filler: [{type: gaussian, std: 1}, {type: uniform, min: 0, max: 4.99}]}""",
        "{name: mnist, type: MNISTData, top: [data, label], split: test, batch_size: 2}"))
    out = tmp_path / "deploy.prototxt"
    assert main(["export-caffe", str(cfg), "-o", str(out)]) == 0
    layers = import_caffe(out).config["layers"]
    assert layers[0] == {"name": "mnist", "type": "Input", "top": ["data", "label"],
                         "shape": [[2, 1, 28, 28], [2]]}


def test_import_caffe_weights_needs_an_output_file(tmp_path, capsys):
    (tmp_path / "deploy.prototxt").write_text(BN_PROTOTXT)
    assert main(["import-caffe", str(tmp_path / "deploy.prototxt"), "--weights",
                 str(tmp_path / "m.caffemodel")]) == 1
    assert "--weights needs -o" in capsys.readouterr().err


def test_depthwise_exports_as_a_grouped_convolution_and_comes_back(tmp_path):
    cfg = tmp_path / "dw.yaml"
    cfg.write_text("""
layers:
  - {name: in, type: Input, top: x, shape: [[1, 3, 6, 6]]}
  - {name: dw, type: ConvolutionDepthwise, bottom: x, top: y, kernel_size: 3, pad: 1,
     num_output: 6, weight_filler: {type: gaussian, std: 1}}
""")
    net = Net(str(cfg), "test", seed=2)
    net.save(tmp_path / "w.npz")
    out = tmp_path / "dw.prototxt"
    assert main(["export-caffe", str(cfg), "--weights", str(tmp_path / "w.npz"),
                 "-o", str(out)]) == 0
    text = out.read_text()
    assert 'type: "Convolution"' in text and "group: 3" in text and "num_output: 6" in text
    assert main(["import-caffe", str(out), "--weights", str(tmp_path / "dw.caffemodel"),
                 "-o", str(tmp_path / "back.yaml")]) == 0
    back = Net(str(tmp_path / "back.yaml"), "test",
               weights=str(tmp_path / "back.weights.npz"))
    x = RNG.standard_normal((1, 3, 6, 6)).astype(np.float32)
    for n in (net, back):
        n.blobs["x"].data[...] = x
        n.forward()
    assert back.layers[1].type_name == "Convolution" and back.layers[1]._depthwise
    np.testing.assert_array_equal(back.blobs["y"].data, net.blobs["y"].data)
