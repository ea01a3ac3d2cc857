"""Every model of the zoo (models/<name>/) builds: its TRAIN and TEST nets set up and reshape,
and one forward/backward of the TRAIN net runs, so that a broken config fails here rather
than in a user's first run. No training (the READMEs report the measured runs).

Data is faked so the test needs no dataset: MNIST as 64 random IDX records under a temporary
LAYERFLOW_DATA, char_lstm's windows made by its own prepare.py into a temporary .npz, and
batch sizes cut to 2. Configs that read data this machine lacks (CIFAR-10, ImageNet) ship a
`*_dummy.yaml` variant with DummyData: it is built here, and checked to hold the same layers
as the real config apart from the data layers."""
import copy
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from layerflow.config import load_yaml_text
from layerflow.net import Net

from .data_helpers import write_idx

MODELS = Path(__file__).resolve().parents[1] / "models"
DATA_TYPES = {"MNISTData", "CIFAR10Data", "ImageFolderData", "NPZData", "DummyData"}
BATCH = 2


def configs():
    """Every config with a solver in a model folder (a net file of its own, such as
    cifar10_quick_net.yaml, is built through the solver config naming it)."""
    out = []
    for folder in sorted(p for p in MODELS.iterdir() if p.is_dir()):
        for y in sorted(folder.glob("*.yaml")):
            if "solver" in load_yaml_text(y.read_text(encoding="utf-8")):
                out.append(pytest.param(y, id=f"{folder.name}/{y.name}"))
    return out


def resolved_net(path):
    cfg = load_yaml_text(path.read_text(encoding="utf-8"))
    net = cfg.get("net", cfg)
    if isinstance(net, str):
        net = load_yaml_text((path.parent / net).read_text(encoding="utf-8"))
    return cfg, net


def model_layers(path):
    """The net's layers other than the data layers."""
    return [layer for layer in resolved_net(path)[1]["layers"]
            if layer["type"] not in DATA_TYPES]


def needs_real_data(path):
    _, net = resolved_net(path)
    return any(layer["type"] in ("CIFAR10Data", "ImageFolderData") for layer in net["layers"])


@pytest.fixture
def fake_data(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    mnist = tmp_path / "mnist"
    mnist.mkdir()
    for images, labels in (("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                           ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")):
        write_idx(mnist / images, rng.integers(0, 256, (64, 28, 28)))
        write_idx(mnist / labels, rng.integers(0, 10, 64))
    monkeypatch.setenv("LAYERFLOW_DATA", str(tmp_path))
    spec = importlib.util.spec_from_file_location("char_prepare",
                                                  MODELS / "char_lstm" / "prepare.py")
    prepare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(prepare)
    x, y, cont = prepare.windows(prepare.TEXT.read_text(encoding="utf-8"))
    np.savez(tmp_path / "chars.npz", x=x[:8], y=y[:8], cont=cont[:8])
    return tmp_path


def small(net_cfg, data_dir):
    """The net with batches of BATCH and the char windows read from the temporary file."""
    net_cfg = copy.deepcopy(net_cfg)
    for layer in net_cfg["layers"]:
        if layer["type"] in DATA_TYPES and "batch_size" in layer:
            layer["batch_size"] = BATCH
        if layer["type"] == "NPZData":
            layer["source"] = str(data_dir / "chars.npz")
        if layer["type"] == "DummyData":
            layer["shape"] = [[BATCH] + list(s[1:]) for s in layer["shape"]]
    return net_cfg


@pytest.mark.parametrize("path", configs())
def test_model_builds_and_steps(path, fake_data):
    if needs_real_data(path):
        dummy = path.with_name(path.stem + "_dummy.yaml")
        assert dummy.is_file(), f"{path.name} reads data absent here and has no {dummy.name}"
        assert model_layers(path) == model_layers(dummy), \
            f"{dummy.name}'s layers differ from {path.name}'s"
        pytest.skip(f"{path.name} needs its dataset; built through {dummy.name}")
    _, net_cfg = resolved_net(path)
    net_cfg = small(net_cfg, fake_data)
    train = Net(net_cfg, phase="train", seed=1)
    test = Net(net_cfg, phase="test", seed=1)
    assert test.layers, path.name
    train.forward_backward()
    assert np.isfinite(train.loss())
