"""End to end on MNIST: the shipped MLP config trains, repeats exactly, and the CLI works."""
import json
from pathlib import Path

import numpy as np

from layerflow.cli import main
from layerflow.config import load_yaml
from layerflow.solvers import Solver

MLP = Path(__file__).resolve().parents[1] / "configs" / "mlp.yaml"


def mlp_config(tmp_path, **solver):
    cfg = load_yaml(MLP)
    cfg["solver"].update(snapshot_prefix=str(tmp_path / "mlp"), display=0, **solver)
    return cfg


def test_mlp_reaches_97_percent_in_1500_iterations(mnist_data, tmp_path):
    solver = Solver(mlp_config(tmp_path, max_iter=1500, test_interval=1500), quiet=True)
    solver.solve()
    assert solver.last_test["iter"] == 1500
    assert solver.last_test["accuracy"] >= 0.97, solver.last_test


def test_random_seed_repeats_runs_exactly(mnist_data, tmp_path):
    runs = []
    for _ in range(2):
        solver = Solver(mlp_config(tmp_path, max_iter=30, test_interval=0, test_iter=0,
                                   snapshot_after_train=False), quiet=True)
        solver.solve()
        runs.append((solver.smoothed_loss, solver.net.params["ip1"][0].data.copy()))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_cli_train_then_test(mnist_data, tmp_path, capsys):
    cfg = tmp_path / "mlp.yaml"
    cfg.write_text(MLP.read_text().replace("snapshots/mnist_mlp", str(tmp_path / "run"))
                   .replace("test_interval: 938", "test_interval: 200"))
    assert main(["train", str(cfg), "--max-iter", "200"]) == 0
    out = capsys.readouterr().out
    assert "Iteration 200, Testing net" in out and "Final test (iteration 200)" in out
    weights = tmp_path / "run_iter_200.weights.npz"
    assert weights.exists() and (tmp_path / "run_iter_200.state.npz").exists()
    records = [json.loads(l) for l in (tmp_path / "run_metrics.jsonl").read_text().splitlines()]
    assert {"train", "test"} <= {r["phase"] for r in records}
    assert all("lr" in r and "loss" in r for r in records if r["phase"] == "train")
    assert main(["test", str(cfg), "--weights", str(weights), "--iterations", "10"]) == 0
    out = capsys.readouterr().out
    acc = float(out.split("accuracy = ")[1].split()[0])
    assert acc > 0.85


def test_missing_mnist_says_where_to_put_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAYERFLOW_DATA", str(tmp_path / "empty"))
    assert main(["train", str(MLP), "--max-iter", "1"]) == 1
    err = capsys.readouterr().err
    assert "MNIST not found in" in err and "train-images-idx3-ubyte.gz" in err
    assert len(err.strip().splitlines()) == 1
