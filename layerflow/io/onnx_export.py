"""ONNX export of the deploy (TEST-phase) net: `layerflow export-onnx CONFIG --weights W
-o model.onnx`. onnx is an optional extra (`pip install onnx`; onnxruntime to check).

What goes out: the TEST net without its losses and accuracies (a loss layer needs labels;
a deploy net ends before it). Data layers and `Input` become graph inputs of the shapes
they produce, with the batch axis left free ("N"); outputs are the tops no exported layer
reads. The Split layers the Net inserts vanish (ONNX tensors may have many readers), and
an in-place top gets a fresh tensor name (`ip1`, `ip1_1`, ...), since ONNX values are
assigned once.

Layer -> ONNX (opset 13):
  Convolution Conv | Deconvolution ConvTranspose | Pooling MaxPool/AveragePool (Caffe's
  ceil rounding as ceil_mode; AVE without pad divides by the in-image part of the window,
  as Caffe) or GlobalMax/AveragePool | InnerProduct Flatten+Gemm | ReLU Relu/LeakyRelu |
  Sigmoid, TanH | BatchNorm BatchNormalization (the stored sums divided by their weight) |
  Scale Mul(+Add), Bias Add | Eltwise Sum/Mul/Max (coefficients as Mul) | Concat | Slice
  Split | Crop Slice | Softmax | Flatten, Reshape Reshape | Dropout Identity | LRN LRN.
"""
import json

import numpy as np

SKIP_TYPES = ("Accuracy", "Silence")


class ExportError(ValueError):
    """A net (or layer setting) that has no ONNX form; names the layer."""


def _onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        raise ExportError("ONNX export needs the onnx package (pip install onnx)") from None
    return onnx, helper, numpy_helper


def _is_split(layer):
    return layer.type_name == "Split" and layer.spec is None


def exported_layers(net):
    """Indices of the layers the deploy graph keeps (data layers become inputs; the
    Net's Split layers are kept as aliases and make no node)."""
    keep = []
    for li, layer in enumerate(net.layers):
        if not net.bottom_vecs[li]:
            continue
        if layer.is_loss or layer.type_name in SKIP_TYPES:
            continue
        keep.append(li)
    return keep


def _roots(net):
    """id(blob) -> id of the blob it aliases through Split layers (itself otherwise)."""
    root = {}
    for li, layer in enumerate(net.layers):
        if _is_split(layer):
            src = net.bottom_vecs[li][0]
            for top in net.top_vecs[li]:
                root[id(top)] = root.get(id(src), id(src))
    return root


class _Builder:
    def __init__(self, net, helper, numpy_helper, dtype=np.float32):
        self.net, self.h, self.nh = net, helper, numpy_helper
        self.nodes, self.inits, self.inputs = [], [], []
        self.names = {}            # id(blob) -> current ONNX tensor name
        self.used = set()
        self.dtype = dtype

    def fresh(self, name):
        base, n, out = name, 0, name
        while out in self.used:
            n += 1
            out = f"{base}_{n}"
        self.used.add(out)
        return out

    def const(self, name, array, dtype=None):
        array = np.asarray(array, dtype=dtype or self.dtype)
        tname = self.fresh(name)
        self.inits.append(self.nh.from_array(array, tname))
        return tname

    def node(self, op, inputs, outputs, name, **attrs):
        self.nodes.append(self.h.make_node(op, inputs, outputs, name=self.fresh(
            f"node_{name}"), **attrs))

    def src(self, blob, layer):
        if id(blob) not in self.names:
            raise ExportError(f"layer '{layer.name}': its bottom '{blob.name}' comes from a "
                              "layer that is not exported (a loss or accuracy?)")
        return self.names[id(blob)]


def _pairs(p):
    return p.kernel, p.strides, p.pads, getattr(p, "dilations", (1, 1))


def _pool_out(size, k, s, p, ceil):
    import math
    if ceil:
        out = int(math.ceil((size + 2 * p - k) / s)) + 1
    else:
        out = (size + 2 * p - k) // s + 1
    return out


def _convert(b, li, layer, bottoms, tops):
    """Append the nodes of one layer; return the ONNX names of its tops."""
    t = layer.type_name
    p = layer.p
    x = [b.src(blob, layer) for blob in bottoms]
    outs = [b.fresh(top.name) for top in tops]
    name = layer.name
    w = [blob.data for blob in layer.blobs]
    if t == "Convolution" or t == "Deconvolution":
        k, s, pad, d = _pairs(p)
        inputs = [x[0], b.const(f"{name}_W", w[0])]
        if p.bias_term:
            inputs.append(b.const(f"{name}_b", w[1]))
        op = "Conv" if t == "Convolution" else "ConvTranspose"
        b.node(op, inputs, outs[:1], name, kernel_shape=list(k), strides=list(s),
               pads=[pad[0], pad[1], pad[0], pad[1]], dilations=list(d), group=p.group)
    elif t == "Pooling":
        if len(tops) > 1:
            raise ExportError(f"layer '{name}': the max-pooling mask top has no ONNX form")
        if p.global_pooling:
            op = "GlobalMaxPool" if p.pool == "MAX" else "GlobalAveragePool"
            b.node(op, x, outs, name)
        else:
            k, s, pad = p.kernel, p.strides, p.pads
            ceil = p.round_mode == "CEIL"
            H, W = bottoms[0].shape[2:4]
            want = tuple(tops[0].shape[2:4])
            got = (_pool_out(H, k[0], s[0], pad[0], ceil), _pool_out(W, k[1], s[1], pad[1], ceil))
            if got != want:
                raise ExportError(f"layer '{name}': Caffe's rounding gives {list(want)} here, "
                                  f"ONNX pooling would give {list(got)} (the last window "
                                  "starts in the padding)")
            attrs = dict(kernel_shape=list(k), strides=list(s),
                         pads=[pad[0], pad[1], pad[0], pad[1]], ceil_mode=int(ceil))
            if p.pool == "MAX":
                b.node("MaxPool", x, outs, name, **attrs)
            else:
                if max(pad) > 0:
                    raise ExportError(f"layer '{name}': AVE pooling with padding divides "
                                      "differently in Caffe and ONNX; export supports pad 0")
                b.node("AveragePool", x, outs, name, count_include_pad=0, **attrs)
    elif t == "InnerProduct":
        if layer.axis != 1:
            raise ExportError(f"layer '{name}': InnerProduct with axis {p.axis} is not "
                              "exported (axis 1 only)")
        flat = x[0]
        if bottoms[0].ndim != 2:
            flat = b.fresh(f"{name}_flat")
            b.node("Flatten", x, [flat], f"{name}_flatten", axis=1)
        inputs = [flat, b.const(f"{name}_W", w[0])]
        if p.bias_term:
            inputs.append(b.const(f"{name}_b", w[1]))
        b.node("Gemm", inputs, outs, name, transB=0 if p.transpose else 1)
    elif t == "ReLU":
        if p.negative_slope:
            b.node("LeakyRelu", x, outs, name, alpha=float(p.negative_slope))
        else:
            b.node("Relu", x, outs, name)
    elif t in ("Sigmoid", "TanH"):
        b.node("Sigmoid" if t == "Sigmoid" else "Tanh", x, outs, name)
    elif t == "Dropout":
        b.node("Identity", x, outs, name)
    elif t == "Softmax":
        b.node("Softmax", x, outs, name, axis=p.axis)
    elif t == "BatchNorm":
        if not layer.use_global:
            raise ExportError(f"layer '{name}': BatchNorm with use_global_stats false "
                              "normalizes by batch statistics; export needs the stored ones")
        factor = float(w[2].reshape(-1)[0])
        factor = 0.0 if factor == 0 else 1.0 / factor
        C = w[0].size
        b.node("BatchNormalization",
               [x[0], b.const(f"{name}_scale", np.ones(C)), b.const(f"{name}_bias", np.zeros(C)),
                b.const(f"{name}_mean", w[0] * factor), b.const(f"{name}_var", w[1] * factor)],
               outs, name, epsilon=float(p.eps))
    elif t in ("Scale", "Bias"):
        _scale_bias(b, layer, bottoms, x, outs, w)
    elif t == "Eltwise":
        op = p.operation
        if op == "SUM" and p.coeff and any(c != 1 for c in p.coeff):
            scaled = []
            for i, (xi, c) in enumerate(zip(x, p.coeff)):
                yi = b.fresh(f"{name}_term{i}")
                b.node("Mul", [xi, b.const(f"{name}_coeff{i}", np.array(c))], [yi],
                       f"{name}_mul{i}")
                scaled.append(yi)
            x = scaled
        if op in ("SUM", "MAX"):
            b.node("Sum" if op == "SUM" else "Max", x, outs, name)
        else:                                   # PROD: a chain of binary Mul
            acc = x[0]
            for i, xi in enumerate(x[1:]):
                nxt = outs[0] if i == len(x) - 2 else b.fresh(f"{name}_prod{i}")
                b.node("Mul", [acc, xi], [nxt], f"{name}_mul{i}")
                acc = nxt
    elif t == "Concat":
        b.node("Concat", x, outs, name, axis=p.axis)
    elif t == "Slice":
        axis = p.axis if p.axis >= 0 else p.axis + bottoms[0].ndim
        sizes = [top.shape[axis] for top in tops]
        b.node("Split", [x[0], b.const(f"{name}_split", sizes, np.int64)], outs, name,
               axis=axis)
    elif t == "Crop":
        nd = bottoms[0].ndim
        axis = p.axis if p.axis >= 0 else p.axis + nd
        starts, ends, axes = [], [], []
        for i in range(axis, nd):
            off = p.offset[0] if len(p.offset) == 1 else (p.offset[i - axis] if p.offset else 0)
            starts.append(off)
            ends.append(off + tops[0].shape[i])
            axes.append(i)
        b.node("Slice", [x[0], b.const(f"{name}_starts", starts, np.int64),
                         b.const(f"{name}_ends", ends, np.int64),
                         b.const(f"{name}_axes", axes, np.int64)], outs, name)
    elif t in ("Flatten", "Reshape"):
        target = list(tops[0].shape)
        if target and bottoms[0].ndim and target[0] == bottoms[0].shape[0]:
            target[0] = 0                           # copy the (free) batch size
        b.node("Reshape", [x[0], b.const(f"{name}_shape", target, np.int64)], outs, name)
    elif t == "LRN":
        if p.norm_region != "ACROSS_CHANNELS":
            raise ExportError(f"layer '{name}': LRN WITHIN_CHANNEL has no ONNX operator")
        b.node("LRN", x, outs, name, size=p.local_size, alpha=float(p.alpha),
               beta=float(p.beta), bias=float(p.k))
    else:
        raise ExportError(f"layer '{name}': type {t} has no ONNX export yet")
    return outs


def _scale_bias(b, layer, bottoms, x, outs, w):
    """Scale: y = x * s (+ bias); Bias: y = x + bias; s and bias broadcast from `axis`
    (as numpy broadcasts: trailing axes of size 1 are appended)."""
    name, nd, axis = layer.name, bottoms[0].ndim, layer.axis

    def shaped(arr):
        return arr.reshape(arr.shape + (1,) * max(nd - axis - arr.ndim, 0))

    op = "Mul" if layer.type_name == "Scale" else "Add"
    if len(bottoms) > 1:
        other = bottoms[1]
        target = list(other.shape) + [1] * max(nd - axis - other.ndim, 0)
        operand = b.fresh(f"{name}_operand")
        b.node("Reshape", [x[1], b.const(f"{name}_oshape", target, np.int64)], [operand],
               f"{name}_reshape")
    else:
        operand = b.const(f"{name}_{'scale' if op == 'Mul' else 'bias'}", shaped(w[0]))
    if op == "Mul" and layer.p.bias_term:
        mid = b.fresh(f"{name}_scaled")
        b.node("Mul", [x[0], operand], [mid], f"{name}_mul")
        b.node("Add", [mid, b.const(f"{name}_bias", shaped(w[-1]))], outs, name)
    else:
        b.node(op, [x[0], operand], outs, name)


def export_onnx(net, path=None, opset=13, batch_free=True):
    """Export a built TEST-phase Net -> the onnx ModelProto (also saved to `path`)."""
    onnx, helper, numpy_helper = _onnx()
    b = _Builder(net, helper, numpy_helper)
    keep = exported_layers(net)
    roots = _roots(net)
    needed = {roots.get(id(blob), id(blob)) for li in keep if not _is_split(net.layers[li])
              for blob in net.bottom_vecs[li]}
    for li, layer in enumerate(net.layers):
        if net.bottom_vecs[li]:
            continue
        for top in net.top_vecs[li]:
            if id(top) not in needed:
                continue
            tname = b.fresh(top.name)
            b.names[id(top)] = tname
            shape = list(top.shape)
            if batch_free and shape:
                shape[0] = "N"
            b.inputs.append(helper.make_tensor_value_info(tname, onnx.TensorProto.FLOAT, shape))
    if not b.inputs:
        raise ExportError("the TEST net has no data or Input layer feeding the exported "
                          "layers: nothing to take as the graph input")
    for li in keep:
        layer = net.layers[li]
        bottoms, tops = net.bottom_vecs[li], net.top_vecs[li]
        if _is_split(layer):
            for top in tops:
                if id(bottoms[0]) in b.names:
                    b.names[id(top)] = b.names[id(bottoms[0])]
            continue
        outs = _convert(b, li, layer, bottoms, tops)
        for top, o in zip(tops, outs):
            b.names[id(top)] = o
    read = {b.names.get(id(blob)) for li in keep if not _is_split(net.layers[li])
            for blob in net.bottom_vecs[li]}
    outputs, seen, blob_of = [], set(), {}
    for li in keep:
        if _is_split(net.layers[li]):
            continue
        for top in net.top_vecs[li]:
            o = b.names[id(top)]
            if o in read or o in seen:
                continue
            seen.add(o)
            shape = list(top.shape)
            if batch_free and shape:
                shape[0] = "N"
            outputs.append(helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, shape))
            blob_of[o] = top.name
    graph = helper.make_graph(b.nodes, net.name, b.inputs, outputs, b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="layerflow")
    model.ir_version = min(model.ir_version, 8)
    helper.set_model_props(model, {"layerflow.outputs": json.dumps(blob_of)})
    onnx.checker.check_model(model)
    if path is not None:
        from pathlib import Path
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        onnx.save(model, str(path))
    return model


def export_config(config, weights, path, opset=13):
    """Build the TEST net of `config` with `weights` and export it; returns the model."""
    from ..net import Net
    net = Net(config, "test", weights=weights)
    return export_onnx(net, path, opset), net


def onnx_names(model):
    """(input names, output names) of an exported model, in order."""
    return [i.name for i in model.graph.input], [o.name for o in model.graph.output]


def output_blobs(model):
    """ONNX output name -> the layerflow blob it came from (in-place tops renamed)."""
    for prop in model.metadata_props:
        if prop.key == "layerflow.outputs":
            return json.loads(prop.value)
    return {o.name: o.name for o in model.graph.output}


def run_layerflow(net, model, feeds):
    """Run the exported part of `net` on `feeds` (input name -> array); returns ONNX output
    name -> a copy of layerflow's result, to compare with onnxruntime's."""
    keep = set(exported_layers(net))
    for name, array in feeds.items():
        net.blobs[name].reshape(array.shape)
        net.blobs[name].data[...] = array
    for li, layer in enumerate(net.layers):
        if li in keep:
            layer.reshape(net.bottom_vecs[li], net.top_vecs[li])
            layer.forward(net.bottom_vecs[li], net.top_vecs[li])
    return {o: net.blobs[blob].data.copy() for o, blob in output_blobs(model).items()}
