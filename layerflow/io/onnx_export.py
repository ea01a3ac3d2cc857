"""ONNX export of the deploy (TEST-phase) net: `layerflow export-onnx CONFIG --weights W
-o model.onnx`. onnx is an optional extra (`pip install onnx`; onnxruntime to check).

What goes out: the TEST net without its losses and accuracies (a loss layer needs labels;
a deploy net ends before it). Data layers and `Input` become graph inputs of the shapes
they produce, with the batch axis left free ("N"); outputs are the tensors no exported node
reads (so a net ending in an in-place layer still has its output). The Split layers the Net
inserts vanish (ONNX tensors may have many readers), and an in-place top gets a fresh
tensor name (`ip1`, `ip1_1`, ...), since ONNX values are assigned once.

Each layer type states its own conversion beside its math, as a method
`to_onnx(self, g, x, y, bottom, top)`: `x` and `y` are the ONNX names of its bottoms and
tops, `g` the graph being built (`g.node(op, inputs, outputs, name, **attrs)`,
`g.const(name, array)`, `g.fresh(name)`, `raise g.error(layer, why)`). The exporter runs
the net's own layer loop once with a hook that asks each exported layer for its nodes
(opset 13). A type without `to_onnx` is refused by name.
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


class OnnxGraph:
    """The graph under construction, handed to each layer's `to_onnx`."""

    def __init__(self, helper, numpy_helper, dtype=np.float32):
        self.h, self.nh = helper, numpy_helper
        self.nodes, self.inits, self.inputs = [], [], []
        self.names = {}            # id(blob) -> current ONNX tensor name
        self.used = set()
        self.read = set()          # tensor names some node reads
        self.produced = []         # (tensor name, blob) in the order made
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

    @staticmethod
    def error(layer, why):
        return ExportError(f"layer '{layer.name}' ({layer.type_name}): {why}")

    def src(self, blob, layer):
        if id(blob) not in self.names:
            raise ExportError(f"layer '{layer.name}': its bottom '{blob.name}' comes from a "
                              "layer that is not exported (a loss or accuracy?)")
        return self.names[id(blob)]


class _Exporter:
    """A net hook: after each exported layer runs, add its nodes to the graph."""

    def __init__(self, graph):
        self.g = graph

    def after_forward(self, net, i):
        g, layer = self.g, net.layers[i]
        bottoms, tops = net.bottom_vecs[i], net.top_vecs[i]
        if _is_split(layer):
            for top in tops:
                if id(bottoms[0]) in g.names:
                    g.names[id(top)] = g.names[id(bottoms[0])]
            return
        convert = getattr(layer, "to_onnx", None)
        if convert is None:
            raise g.error(layer, f"type {layer.type_name} has no ONNX export yet (a layer "
                                 "states its own in a `to_onnx` method)")
        x = [g.src(blob, layer) for blob in bottoms]
        y = [g.fresh(top.name) for top in tops]
        convert(g, x, y, bottoms, tops)
        g.read.update(x)
        for top, name in zip(tops, y):
            g.names[id(top)] = name
            g.produced.append((name, top))


def export_onnx(net, path=None, opset=13, batch_free=True):
    """Export a built TEST-phase Net -> the onnx ModelProto (also saved to `path`)."""
    onnx, helper, numpy_helper = _onnx()
    g = OnnxGraph(helper, numpy_helper)
    keep = exported_layers(net)
    roots = _roots(net)
    needed = {roots.get(id(blob), id(blob)) for li in keep if not _is_split(net.layers[li])
              for blob in net.bottom_vecs[li]}

    def value_info(name, blob):
        shape = list(blob.shape)
        if batch_free and shape:
            shape[0] = "N"
        return helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, shape)

    for li, layer in enumerate(net.layers):
        if net.bottom_vecs[li]:
            continue
        for top in net.top_vecs[li]:
            if id(top) in needed:
                g.names[id(top)] = g.fresh(top.name)
                g.inputs.append(value_info(g.names[id(top)], top))
    if not g.inputs:
        raise ExportError("the TEST net has no data or Input layer feeding the exported "
                          "layers: nothing to take as the graph input")
    hook = net.add_hook(_Exporter(g))
    try:
        net.forward(layers=keep)
    finally:
        net.remove_hook(hook)
    outputs = [(name, top) for name, top in g.produced if name not in g.read]
    graph = helper.make_graph(g.nodes, net.name, g.inputs,
                              [value_info(name, top) for name, top in outputs], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="layerflow")
    model.ir_version = min(model.ir_version, 8)
    helper.set_model_props(model, {"layerflow.outputs": json.dumps(
        {name: top.name for name, top in outputs})})
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
    for name, array in feeds.items():
        net.blobs[name].reshape(array.shape)
        net.blobs[name].data[...] = array
    net.forward(layers=exported_layers(net))
    return {o: net.blobs[blob].cpu_data.copy() for o, blob in output_blobs(model).items()}
