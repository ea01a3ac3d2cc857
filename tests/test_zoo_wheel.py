"""Models by name from an installed wheel (not the checkout): build the wheel here, install
it into a folder of its own, and in an empty folder `layerflow train mlp --max-iter 50`
trains and writes its snapshots there; `layerflow models` lists the packaged zoo."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from layerflow import zoo

from .conftest import ROOT, mnist_root

SOURCES = ["layerflow", "configs", "models", "setup.py", "setup.cfg", "pyproject.toml",
           "README.md"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(site folder with the installed wheel, its `layerflow` script, environment)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:             # build from a copy: no build/ or egg-info in the checkout
        p = ROOT / name
        if p.is_dir():
            shutil.copytree(p, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
        else:
            shutil.copy2(p, src / name)
    run = dict(capture_output=True, text=True, timeout=300)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                            "--no-build-isolation", "-q", "-w", str(tmp / "dist"), str(src)],
                           **run)
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp / "dist").glob("layerflow-*.whl")
    site = tmp / "site"
    inst = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q",
                           "--no-index", "--target", str(site), str(wheel)], **run)
    assert inst.returncode == 0, inst.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAYERFLOW_")}
    env["PYTHONPATH"] = str(site)
    data = mnist_root()
    if data is not None:
        env["LAYERFLOW_DATA"] = str(data)
    env["LAYERFLOW_OFFLINE"] = "1"
    return site, site / "bin" / "layerflow", env


def test_the_wheel_carries_the_zoo(installed, tmp_path):
    site, script, env = installed
    assert (site / "layerflow" / "zoo_configs" / "lenet.yaml").is_file()
    assert (site / "layerflow" / "zoo_models" / "cifar10_quick" /
            "cifar10_quick_solver.yaml").is_file()
    out = subprocess.run([str(script), "models"], capture_output=True, text=True, cwd=tmp_path,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert str(site / "layerflow") in out.stdout           # the installed copy, not ROOT
    names = [line.split()[0] for line in out.stdout.splitlines() if line.strip()]
    assert {"cifar10_quick", "lenet", "mlp", "residual_mlp", "lenet_bn"} <= set(names)
    assert "99.13% test accuracy" in out.stdout


def test_train_mlp_by_name_from_an_empty_folder(installed, tmp_path):
    if mnist_root() is None:
        pytest.skip("MNIST not found: set LAYERFLOW_DATA to a folder holding mnist/")
    site, script, env = installed
    work = tmp_path / "empty"
    work.mkdir()
    out = subprocess.run([str(script), "train", "mlp", "--max-iter", "50"],
                         capture_output=True, text=True, cwd=work, env=env, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    snaps = work / "snapshots"
    assert (snaps / "mnist_mlp_iter_50.weights.npz").is_file()
    assert (snaps / "mnist_mlp_iter_50.state.npz").is_file()
    assert (snaps / "mnist_mlp_metrics.jsonl").is_file()
    assert not list(site.rglob("*.weights.npz"))          # nothing written into the install
    # and the model is usable by name too
    out = subprocess.run([str(script), "predict", "mlp", "--weights",
                          str(snaps / "mnist_mlp_iter_50.weights.npz"), "mnist:test[0:20]",
                          "--top", "1"], capture_output=True, text=True, cwd=work, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1].startswith("top-1 accuracy ")


def test_a_path_wins_over_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert zoo.resolve("mlp") == zoo.zoo_folders()[0] / "mlp.yaml"
    (tmp_path / "mlp").write_text("layers: []\n")
    assert zoo.resolve("mlp") == Path("mlp")
    assert zoo.resolve("configs/other.yaml") == Path("configs/other.yaml")
    with pytest.raises(ValueError, match=r"lenett: no such file, and no model of that name "
                                         r"\(did you mean 'lenet'( or 'lenet_bn')?\?\)"):
        zoo.resolve("lenett")


def test_models_reach_what_their_readmes_say():
    ms = {m.name: m for m in zoo.models()}
    assert ms["lenet"].config.name == "lenet.yaml" and ms["lenet"].readme.name == "README.md"
    assert ms["cifar10_quick"].config.name == "cifar10_quick_solver.yaml"
    assert ms["lenet"].reaches.startswith("99.13%")
    assert all(m.reaches for m in ms.values())


def test_a_model_folder_runs_its_solver_config(tmp_path, monkeypatch):
    folder = zoo.zoo_folders()[1] / "cifar10_quick"
    assert zoo.resolve(str(folder)) == folder / "cifar10_quick_solver.yaml"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lenet").mkdir()                       # a folder without a config: the name
    assert zoo.resolve("lenet").name == "lenet.yaml"


def test_time_a_model_by_name_from_another_folder(tmp_path, monkeypatch, capsys):
    from layerflow.cli import main
    monkeypatch.chdir(tmp_path)
    assert main(["time", "cifar10_quick", "--iterations", "1"]) == 0
    out = capsys.readouterr().out
    assert "Net 'CIFAR10_quick' (TRAIN" in out and "conv3" in out
    assert not (tmp_path / "snapshots").exists()
