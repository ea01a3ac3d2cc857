"""Plug-in layers from files outside the package: by module path, `plugins:`, entry points."""
import textwrap

import numpy as np
import pytest

from layerflow import ConfigError, Layer, Net, register_layer
from layerflow import registry
from layerflow.solvers import Solver

PLUGIN = '''
from dataclasses import dataclass
from layerflow import Layer, register_layer
from layerflow.fillers import FillerSpec


class LearnedScale(Layer):
    """y = x * w, one learnable w per feature."""
    @dataclass
    class Params:
        init: float = 1.0

    def setup(self, bottom, top):
        self.add_param(bottom[0].shape[1:], FillerSpec("constant", value=self.p.init))

    def forward(self, bottom, top):
        top[0].data[...] = bottom[0].data * self.blobs[0].data

    def backward(self, top, propagate_down, bottom):
        self.blobs[0].diff[...] += (top[0].diff * bottom[0].data).sum(axis=0)
        if propagate_down[0]:
            bottom[0].diff[...] = top[0].diff * self.blobs[0].data


@register_layer("Triple{suffix}")
class Triple(Layer):
    in_place = True

    def forward(self, bottom, top):
        top[0].data[...] = bottom[0].data * 3

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = top[0].diff * 3
'''

CONFIG = """\
solver: {{type: SGD, base_lr: 0.1, momentum: 0.5, max_iter: 60, random_seed: 1,
          snapshot_prefix: {prefix}, snapshot_after_train: false}}
{plugins}
net:
  layers:
    - name: data
      type: DummyData
      top: x
      shape: [[8, 4]]
      data_filler: [{{type: uniform, min: -1, max: 1}}]
    - {{name: scale, type: "{scale_type}", bottom: x, top: y, init: 0.5}}
    - {{name: triple, type: {triple_type}, bottom: y, top: y}}
    - {{name: loss, type: EuclideanLoss, bottom: [y, x], top: loss}}   # learn w = 1/3
"""


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    name = f"lf_plugin_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(PLUGIN.format(suffix=tmp_path.name[-12:]))
    monkeypatch.syspath_prepend(str(tmp_path))
    return name, "Triple" + tmp_path.name[-12:]


def test_plugin_by_module_path_and_plugins_list_trains(tmp_path, plugin_module):
    module, triple = plugin_module
    config = tmp_path / "plug.yaml"
    config.write_text(CONFIG.format(prefix=tmp_path / "snap", plugins=f"plugins: [{module}]",
                                    scale_type=f"{module}:LearnedScale", triple_type=triple))
    solver = Solver(config, quiet=True)
    first = solver.net.forward()
    solver.solve()
    scale = solver.net.layers[solver.net.layer_names.index("scale")]
    assert type(scale).__name__ == "LearnedScale"
    assert solver.net.forward() < 0.01 * first
    # an unregistered plug-in is named by its class in errors, not by its base ("Layer")
    assert scale.type_name == "LearnedScale" and repr(scale) == "<LearnedScale layer 'scale'>"
    assert "layer 'scale' (LearnedScale): " in str(scale.shape_error("bad"))


def test_entry_point_registration(tmp_path, monkeypatch, plugin_module):
    module, _ = plugin_module
    dist = tmp_path / "lfplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: lfplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        f"[layerflow.layers]\nEPScale{tmp_path.name[-8:]} = {module}:LearnedScale\n")
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    cls = registry.get_layer_class(f"EPScale{tmp_path.name[-8:]}")
    assert cls.__name__ == "LearnedScale"


def test_duplicate_registration_is_refused():
    with pytest.raises(ValueError, match="'ReLU' is already registered"):
        @register_layer("ReLU")
        class Other(Layer):
            pass


def test_bad_plugin_paths_are_config_errors(tmp_path):
    config = tmp_path / "net.yaml"
    config.write_text(textwrap.dedent("""\
        layers:
          - {name: data, type: Input, top: x, shape: [2]}
          - {name: p, type: "no_such_module_xyz:Thing", bottom: x, top: y}
        """))
    with pytest.raises(ConfigError, match=r"net.yaml:3:.*layer 'p'.*cannot load plug-in layer"):
        Net(config)
    config.write_text("plugins: [no_such_module_xyz]\n"
                      "layers:\n  - {name: a, type: Input, top: x}\n")
    with pytest.raises(ConfigError, match=r"net.yaml:1:.*cannot import plug-in module"):
        Net(config)
    config.write_text(textwrap.dedent("""\
        layers:
          - {name: data, type: Input, top: x, shape: [2]}
          - {name: p, type: "numpy:ndarray", bottom: x, top: y}
        """))
    with pytest.raises(ConfigError, match="not a subclass of layerflow.Layer"):
        Net(config)


def test_plugin_defined_in_python_directly():
    @register_layer("PlainDouble")
    class PlainDouble(Layer):
        def forward(self, bottom, top):
            top[0].data[...] = 2 * bottom[0].data

    net = Net({"layers": [{"name": "d", "type": "Input", "top": "x", "shape": [3]},
                          {"name": "p", "type": "PlainDouble", "bottom": "x", "top": "y"}]})
    net.blobs["x"].data[...] = [1, 2, 3]
    net.forward()
    np.testing.assert_array_equal(net.blobs["y"].data, [2, 4, 6])
