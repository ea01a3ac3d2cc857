"""The tool commands: time, draw, plot, gradcheck, import-caffe, export-onnx, layers, device,
data fetch; each writes what it says, and a user error is one line and exit status 1."""
import json
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from layerflow.cli import main
from layerflow.config import load_yaml_text
from layerflow.net import Net

ROOT = Path(__file__).resolve().parents[1]
CAFFE = Path(__file__).parent / "data" / "caffe"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

SMALL = """
name: small
solver: {type: Adam, base_lr: 0.01, max_iter: 10}
net:
  layers:
    - name: data
      type: DummyData
      top: [data, label]
      shape: [[4, 3, 6, 6], [4]]
      data_filler: [{type: gaussian, std: 1}, {type: uniform, min: 0, max: 2.99}]
    - {name: conv, type: Convolution, bottom: data, top: conv, num_output: 4, kernel_size: 3}
    - {name: relu, type: ReLU, bottom: conv, top: conv}
    - {name: pool, type: Pooling, bottom: conv, top: pool, pool: MAX, kernel_size: 2, stride: 2}
    - {name: ip, type: InnerProduct, bottom: pool, top: ip, num_output: 3}
    - {name: loss, type: SoftmaxWithLoss, bottom: [ip, label], top: loss}
"""


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_one_line_error(code, err, words):
    assert code == 1
    lines = [l for l in err.strip().splitlines() if l]
    assert len(lines) == 1 and lines[0].startswith("layerflow: error:"), err
    assert words in lines[0], err


# -- time -----------------------------------------------------------------------------------
def test_time_prints_table_totals_and_memory_split(small, capsys):
    code, out, _ = run(capsys, "time", small, "--iterations", "3")
    assert code == 0
    for word in ("forward ms: mean", "backward ms: mean", "Average forward pass",
                 "Average backward pass",
                 "Average forward-backward", "Numba compilation", "params", "param grads",
                 "solver history", "activations + diffs", "in-place layers save"):
        assert word in out, word
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "Convolution" in rows["conv"] and "in place" in rows["relu"]
    assert "Adam: 2 blob(s) per param" in out


def test_memory_split_counts_history_by_solver_and_in_place_savings():
    from layerflow.timing import history_blobs, memory_report
    assert history_blobs({"type": "SGD"}) == 0
    assert history_blobs({"type": "SGD", "momentum": 0.9}) == 1
    assert history_blobs({"type": "Adam"}) == 2 and history_blobs(None) is None
    cfg = load_yaml_text(SMALL)
    net = Net(cfg["net"], "train", seed=1)
    mem = memory_report(net, {"type": "SGD", "momentum": 0.9})
    n_params = (4 * 3 * 3 * 3 + 4) + (3 * 4 * 2 * 2 + 3)
    assert mem["num_params"] == n_params
    assert mem["params"] == mem["param_grads"] == mem["solver_history"] == 4 * n_params
    assert mem["inplace_saved"] == 2 * 4 * (4 * 4 * 4 * 4)          # relu's data + diff
    conv_top = 2 * 4 * (4 * 4 * 4 * 4)
    assert mem["activations_diffs"] >= conv_top
    adam = memory_report(net, {"type": "Adam"})
    assert adam["solver_history"] == 2 * adam["params"]


def test_time_keeps_compilation_out_of_the_timings(monkeypatch):
    from layerflow import timing
    from numba import njit

    @njit
    def fresh_kernel(x):            # not cached: compiles inside the timer
        return x + 1

    with timing.numba_compile_timer() as compiled:
        fresh_kernel(1.0)
    assert compiled[0] > 0.0


# -- draw -----------------------------------------------------------------------------------
def test_draw_svg_is_valid_and_names_layers_and_shapes(small, tmp_path, capsys):
    out_path = tmp_path / "net.svg"
    code, out, _ = run(capsys, "draw", small, "-o", out_path, "--no-graphviz")
    assert code == 0 and "built-in layout" in out
    root = ET.parse(out_path).getroot()
    assert root.tag.endswith("svg")
    text = out_path.read_text()
    for word in ("conv", "Convolution", "num_output: 4", "conv [4, 4, 4, 4]", "in place",
                 "stroke-dasharray"):
        assert word in text, word
    assert (tmp_path / "net.dot").exists()          # the .dot is written beside it


def test_draw_dot_and_png(small, tmp_path, capsys):
    code, _, _ = run(capsys, "draw", small, "-o", tmp_path / "net.dot")
    dot = (tmp_path / "net.dot").read_text()
    assert code == 0 and dot.startswith('digraph "small"') and "L1 -> L2" in dot
    assert "_split" not in dot                       # the Net's Split layers are folded
    pytest.importorskip("matplotlib")
    code, _, _ = run(capsys, "draw", small, "-o", tmp_path / "net.png", "--no-graphviz")
    assert code == 0 and (tmp_path / "net.png").read_bytes()[:8] == PNG_MAGIC


def test_draw_with_graphviz_when_installed(small, tmp_path, capsys):
    import shutil
    if not shutil.which("dot"):
        pytest.skip("Graphviz 'dot' is not installed")
    code, out, _ = run(capsys, "draw", small, "-o", tmp_path / "g.svg")
    assert code == 0 and "(Graphviz)" in out
    assert ET.parse(tmp_path / "g.svg").getroot().tag.endswith("svg")


def test_draw_hands_dot_text_to_graphviz(small, tmp_path, monkeypatch, capsys):
    """With a `dot` program on PATH, draw pipes the DOT text to `dot -Tsvg -o OUT`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "dot"
    fake.write_text('#!/bin/sh\n# fake Graphviz: keep the input, write a tiny SVG to -o\n'
                    'cat > "$(dirname "$0")/input.dot"\n'
                    'while [ $# -gt 0 ]; do [ "$1" = "-o" ] && out="$2"; shift; done\n'
                    'echo \'<svg xmlns="http://www.w3.org/2000/svg"/>\' > "$out"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    code, out, _ = run(capsys, "draw", small, "-o", tmp_path / "g.svg")
    assert code == 0 and "(Graphviz)" in out
    assert (bin_dir / "input.dot").read_text().startswith('digraph "small"')
    assert ET.parse(tmp_path / "g.svg").getroot().tag.endswith("svg")


def test_draw_bad_suffix_is_one_line_error(small, tmp_path, capsys):
    code, _, err = run(capsys, "draw", small, "-o", tmp_path / "net.jpg")
    assert_one_line_error(code, err, ".svg, .png or .dot")


# -- plot -----------------------------------------------------------------------------------
def write_metrics(path, scale=1.0):
    with open(path, "w") as f:
        for it in range(0, 200, 20):
            f.write(json.dumps({"iter": it, "phase": "train", "loss": scale * 2.3 / (1 + it),
                                "lr": 0.01 * (1 + 1e-4 * it) ** -0.75, "iter_per_s": 50}) + "\n")
            if it % 100 == 0:
                f.write(json.dumps({"iter": it, "phase": "test", "accuracy": 0.5 + it / 400,
                                    "loss": scale * 2.0 / (1 + it)}) + "\n")


def test_plot_writes_png_for_several_runs(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    a, b = tmp_path / "a_metrics.jsonl", tmp_path / "b_metrics.jsonl"
    write_metrics(a)
    write_metrics(b, 2.0)
    code, out, _ = run(capsys, "plot", a, b, "-o", tmp_path / "curves.png")
    assert code == 0 and "2 run(s)" in out and "accuracy" in out and "lr" in out
    assert (tmp_path / "curves.png").read_bytes()[:8] == PNG_MAGIC


def test_plot_reads_a_folder_a_log_and_the_solvers_own_metrics(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from layerflow.plot import load_runs, read_log
    from layerflow.solvers import Solver
    cfg = load_yaml_text(SMALL)
    cfg["solver"].update(max_iter=6, display=2, snapshot_prefix=str(tmp_path / "run" / "s"),
                         snapshot_after_train=False)
    Solver(cfg, quiet=True).solve()
    (run_dir,) = [tmp_path / "run"]
    runs = load_runs([run_dir])
    assert runs[0].label == "s" and [r["iter"] for r in runs[0].train] == [0, 2, 4]
    log = tmp_path / "caffe.log"
    log.write_text(textwrap.dedent("""\
        I0101 solver.cpp:218] Iteration 0 (0 iter/s, 0.1s/100 iters), loss = 2.31
        I0101 sgd_solver.cpp:105] Iteration 0, lr = 0.01
        I0101 solver.cpp:330] Iteration 500, Testing net (#0)
        I0101 solver.cpp:397]     Test net output #0: accuracy = 0.97
        I0101 solver.cpp:397]     Test net output #1: loss = 0.09 (* 1 = 0.09 loss)
        I0101 solver.cpp:218] Iteration 500 (300 iter/s, 0.3s/100 iters), loss = 0.12
        """))
    run_log = read_log(log)
    assert [(r["iter"], r["loss"]) for r in run_log.train] == [(0, 2.31), (500, 0.12)]
    assert run_log.train[0]["lr"] == 0.01
    assert run_log.test == [{"iter": 500, "phase": "test", "accuracy": 0.97, "loss": 0.09}]
    code, _, _ = run(capsys, "plot", run_dir, log, "-o", tmp_path / "both.svg")
    assert code == 0 and ET.parse(tmp_path / "both.svg").getroot().tag.endswith("svg")


def test_plot_bad_metrics_line_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad_metrics.jsonl"
    bad.write_text('{"iter": 0, "loss": 1}\n{oops\n')
    code, _, err = run(capsys, "plot", bad, "-o", tmp_path / "x.png")
    assert_one_line_error(code, err, "bad_metrics.jsonl:2")


# -- gradcheck ------------------------------------------------------------------------------
def test_gradcheck_layer_prints_worst_error_per_bottom_and_param(capsys):
    code, out, _ = run(capsys, "gradcheck", "--layer", "InnerProduct", "--params",
                       "num_output=3", "--shape", "2,4")
    assert code == 0
    for label in ("bottom 0", "param 0", "param 1"):
        assert label in out
    assert "gradient check passed" in out


def test_gradcheck_config_checks_every_backward_layer(small, capsys):
    code, out, _ = run(capsys, "gradcheck", small, "--max-elements", "30")
    assert code == 0, out
    for name in ("conv (Convolution)", "relu (ReLU)", "pool (Pooling)", "ip (InnerProduct)",
                 "loss (SoftmaxWithLoss)"):
        assert name in out
    assert "(0 elements checked)" not in out        # zero biases are checked, not skipped


def test_gradcheck_deploy_net_without_loss(tmp_path, capsys):
    deploy = tmp_path / "deploy.yaml"
    deploy.write_text("layers:\n"
                      "  - {name: in, type: Input, top: x, shape: [2, 5]}\n"
                      "  - {name: ip, type: InnerProduct, bottom: x, top: y, num_output: 3}\n"
                      "  - {name: prob, type: Softmax, bottom: y, top: p}\n")
    code, out, _ = run(capsys, "gradcheck", deploy)
    assert code == 0 and "ip (InnerProduct)" in out and "prob (Softmax)" in out


PLUGIN = '''
from dataclasses import dataclass
from layerflow import Layer


class Cube(Layer):
    """y = factor * x^3 (with a wrong gradient when broken is set)."""
    @dataclass
    class Params:
        factor: float = 1.0
        broken: bool = False

    def forward(self, bottom, top):
        top[0].data[...] = self.p.factor * bottom[0].data ** 3

    def backward(self, top, propagate_down, bottom):
        k = 2.0 if self.p.broken else 3.0
        bottom[0].diff[...] = top[0].diff * self.p.factor * k * bottom[0].data ** 2
'''


def test_gradcheck_plugin_layer_passes_and_a_wrong_gradient_fails(tmp_path, monkeypatch,
                                                                   capsys):
    (tmp_path / "cubeplug.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, _ = run(capsys, "gradcheck", "--layer", "cubeplug:Cube", "--params",
                       "factor=0.5", "--shape", "3,4")
    assert code == 0 and "bottom 0" in out
    code, out, _ = run(capsys, "gradcheck", "--layer", "cubeplug:Cube", "--params",
                       "broken=true", "--shape", "3,4")
    assert code == 1 and "FAIL" in out and "gradient check FAILED" in out


def test_gradcheck_user_errors(capsys):
    code, _, err = run(capsys, "gradcheck", "--layer", "InnerProdcut")
    assert_one_line_error(code, err, "did you mean 'InnerProduct'")
    code, _, err = run(capsys, "gradcheck")
    assert_one_line_error(code, err, "CONFIG or --layer")
    code, _, err = run(capsys, "gradcheck", "--layer", "ReLU", "--params", "slope")
    assert_one_line_error(code, err, "key=value")


# -- import-caffe ---------------------------------------------------------------------------
def test_import_caffe_writes_yaml_and_warns_with_line_numbers(tmp_path, capsys):
    proto = tmp_path / "net.prototxt"
    proto.write_text('input: "data"\ninput_shape { dim: 2 dim: 5 }\n'
                     'layer {\n  name: "u"\n  type: "Unknown"\n  bottom: "data"\n  top: "u"\n}\n')
    out_path = tmp_path / "net.yaml"
    code, _, err = run(capsys, "import-caffe", proto, "-o", out_path)
    assert code == 0
    assert f"warning: {proto}:3: layer 'u': type 'Unknown' has no layerflow" in err
    assert "type: Unknown" in out_path.read_text()


def test_import_caffe_prints_to_stdout_and_syntax_error_is_one_line(tmp_path, capsys):
    code, out, _ = run(capsys, "import-caffe", CAFFE / "mlp_deploy_v1.prototxt")
    assert code == 0 and "type: InnerProduct" in out
    bad = tmp_path / "bad.prototxt"
    bad.write_text("layer {\n  name: 'x'\n  type: \n}\n")
    code, _, err = run(capsys, "import-caffe", bad)
    assert_one_line_error(code, err, "bad.prototxt:4:1: expected a value")


# -- export-onnx ----------------------------------------------------------------------------
def test_export_onnx_cli(tmp_path, capsys):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    cfg = load_yaml_text(SMALL)
    net = Net(cfg["net"], "test", seed=1)
    weights = tmp_path / "w.npz"
    net.save(weights)
    config = tmp_path / "small.yaml"
    config.write_text(SMALL)
    code, out, _ = run(capsys, "export-onnx", config, "--weights", weights, "-o",
                       tmp_path / "m.onnx")
    assert code == 0 and "inputs data" in out and "outputs ip" in out
    x = np.random.default_rng(0).normal(size=(4, 3, 6, 6)).astype(np.float32)
    (got,) = ort.InferenceSession(str(tmp_path / "m.onnx"),
                                  providers=["CPUExecutionProvider"]).run(["ip"], {"data": x})
    net.blobs["data"].data[...] = x
    for layer, b, t in list(zip(net.layers, net.bottom_vecs, net.top_vecs))[1:-1]:
        layer.reshape(b, t)
        layer.forward(b, t)
    np.testing.assert_allclose(got, net.blobs["ip"].data, rtol=1e-5, atol=1e-5)


def test_export_onnx_missing_weights_is_one_line_error(small, tmp_path, capsys):
    code, _, err = run(capsys, "export-onnx", small, "--weights", tmp_path / "none.npz",
                       "-o", tmp_path / "m.onnx")
    assert_one_line_error(code, err, "none.npz")


# -- layers, device, data fetch -------------------------------------------------------------
def test_layers_catalogue_and_one_type(capsys):
    code, out, _ = run(capsys, "layers")
    assert code == 0
    assert "InnerProduct" in out and "Convolution" in out and "types;" in out
    code, out, _ = run(capsys, "layers", "Pooling")
    assert code == 0
    assert "pool" in out and "'MAX'" in out and "kernel_size" in out
    code, out, _ = run(capsys, "layers", "InnerProduct")
    assert "num_output" in out and "[1, ]" in out and "{type: xavier}" in out
    code, _, err = run(capsys, "layers", "Polling")
    assert_one_line_error(code, err, "did you mean 'Pooling'")


def test_device_reports_cpu_threads_cuda_and_mpi(capsys):
    code, out, _ = run(capsys, "device")
    assert code == 0
    for word in ("CPU ", "cores", "Numba", "threads", "BLAS", "CUDA", "MPI"):
        assert word in out, word


def test_data_fetch_without_the_fetch_module_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "layerflow.data.fetch", None)
    code, _, err = run(capsys, "data", "fetch", "mnist")
    assert_one_line_error(code, err, "dataset download is not available")


def test_data_fetch_calls_fetch_dataset(monkeypatch, capsys):
    import types
    calls = []
    fake = types.ModuleType("layerflow.data.fetch")
    fake.fetch_dataset = lambda name: calls.append(name) or f"{name} ready"
    monkeypatch.setitem(sys.modules, "layerflow.data.fetch", fake)
    code, out, _ = run(capsys, "data", "fetch", "mnist")
    assert code == 0 and calls == ["mnist"] and "mnist ready" in out
