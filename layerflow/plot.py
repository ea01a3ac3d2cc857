"""`layerflow plot`: training curves from the metrics the Solver writes.

    layerflow plot snapshots/lenet_metrics.jsonl snapshots/mlp_metrics.jsonl -o curves.png

Each argument is a JSON-lines metrics file (`{snapshot_prefix}_metrics.jsonl`: records
`{"iter", "phase": "train", "loss", "lr", ...}` and `{"iter", "phase": "test", <output>:
value, ...}`), a folder holding such files, a config whose solver names them through
`snapshot_prefix`, or a text log (layerflow's or Caffe's: `Iteration N ... loss = x`,
`lr = x`, `Test net output ...: name = x`). Panels: train loss (and test loss), every
other test output (accuracy ...), and the learning rate, against iteration; several runs
share the panels for comparison. matplotlib is an optional extra.
"""
import json
import re
from pathlib import Path

_ITER_LOSS = re.compile(r"Iteration (\d+).*?, loss = ([-+\w.]+)")
_ITER_LR = re.compile(r"Iteration (\d+), lr = ([-+\w.]+)")
_TESTING = re.compile(r"Iteration (\d+), Testing net")
_TEST_OUT = re.compile(r"Test net output(?: #\d+)?: (\w+) = ([-+\w.]+)")


class Run:
    """One run's records: `train` and `test` lists of dicts, and a label."""

    def __init__(self, label, train, test):
        self.label, self.train, self.test = label, train, test


def _label(path):
    name = Path(path).name
    for suffix in ("_metrics.jsonl", ".jsonl", ".log", ".txt"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def read_metrics(path):
    """A JSON-lines metrics file -> Run (a bad line is a ValueError naming file and line)."""
    train, test = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not a JSON record ({exc.msg})") from None
            if not isinstance(rec, dict) or "iter" not in rec:
                raise ValueError(f"{path}:{n}: a metrics record needs 'iter'")
            (test if rec.get("phase") == "test" else train).append(rec)
    return Run(_label(path), train, test)


def read_log(path):
    """A text training log (layerflow's or Caffe's) -> Run."""
    train, test, lrs = {}, [], {}
    current = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = _TESTING.search(line)
            if m:
                current = {"iter": int(m.group(1)), "phase": "test"}
                test.append(current)
                continue
            m = _TEST_OUT.search(line)
            if m and current is not None:
                current[m.group(1)] = float(m.group(2))
                continue
            m = _ITER_LR.search(line)
            if m:
                lrs[int(m.group(1))] = float(m.group(2))
                continue
            m = _ITER_LOSS.search(line)
            if m:
                train[int(m.group(1))] = {"iter": int(m.group(1)), "phase": "train",
                                          "loss": float(m.group(2))}
    for it, lr in lrs.items():
        train.setdefault(it, {"iter": it, "phase": "train"})["lr"] = lr
    return Run(_label(path), [train[k] for k in sorted(train)], test)


def load_runs(sources):
    """Resolve each source (file, folder, config) to its Runs."""
    runs = []
    for src in sources:
        path = Path(src)
        if path.is_dir():
            files = sorted(path.glob("*_metrics.jsonl")) or sorted(path.glob("*/*_metrics.jsonl"))
            if not files:
                raise ValueError(f"{path}: no *_metrics.jsonl file in this folder")
            runs += [read_metrics(f) for f in files]
        elif not path.exists():
            raise ValueError(f"{path}: no such file or folder")
        elif path.suffix in (".yaml", ".yml"):
            runs.append(read_metrics(_metrics_of_config(path)))
        elif path.suffix == ".jsonl" or _looks_json(path):
            runs.append(read_metrics(path))
        else:
            runs.append(read_log(path))
    for run in runs:
        if not run.train and not run.test:
            raise ValueError(f"{run.label}: no training or test records found")
    return runs


def _looks_json(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read(1) == "{"


def _metrics_of_config(path):
    from .config import load_config, solver_section
    root, file = load_config(path)
    prefix = solver_section(root, file).get("snapshot_prefix", "snapshots/model")
    metrics = Path(str(prefix) + "_metrics.jsonl")
    if not metrics.exists():
        raise ValueError(f"{path}: its metrics file {metrics} does not exist yet "
                         "(train first, or give the file)")
    return metrics


def plot_runs(runs, output, title=None):
    """Draw the panels for `runs` into `output` (.png, .svg or .pdf)."""
    try:
        import matplotlib
    except ImportError:
        raise ValueError("layerflow plot needs matplotlib (pip install matplotlib)") from None
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    test_keys = []
    for run in runs:
        for rec in run.test:
            for k in rec:
                if k not in ("iter", "phase", "loss") and k not in test_keys and \
                        isinstance(rec[k], (int, float)):
                    test_keys.append(k)
    has_lr = any("lr" in r for run in runs for r in run.train)
    panels = ["loss"] + test_keys + (["lr"] if has_lr else [])
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 2.6 * len(panels)), sharex=True,
                             squeeze=False)
    axes = axes[:, 0]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, run in enumerate(runs):
        c = colors[i % len(colors)]
        name = run.label if len(runs) > 1 else ""
        series = [(r["iter"], r["loss"]) for r in run.train if "loss" in r]
        if series:
            axes[0].plot(*zip(*series), color=c, label=f"{name} train".strip())
        series = [(r["iter"], r["loss"]) for r in run.test if "loss" in r]
        if series:
            axes[0].plot(*zip(*series), color=c, ls="--", marker="o", ms=3,
                         label=f"{name} test".strip())
        for ax, key in zip(axes[1:], test_keys):
            series = [(r["iter"], r[key]) for r in run.test if key in r]
            if series:
                ax.plot(*zip(*series), color=c, marker="o", ms=3, label=name or "test")
        if has_lr:
            series = [(r["iter"], r["lr"]) for r in run.train if "lr" in r]
            if series:
                axes[-1].plot(*zip(*series), color=c, label=name or "lr")
    axes[0].set_ylabel("loss")
    losses = [r["loss"] for run in runs for r in run.train + run.test
              if isinstance(r.get("loss"), (int, float)) and r["loss"] > 0]
    if losses and max(losses) / min(losses) > 100:
        axes[0].set_yscale("log")
    for ax, key in zip(axes[1:], test_keys):
        ax.set_ylabel(f"test {key}")
    if has_lr:
        axes[-1].set_ylabel("learning rate")
    for ax in axes:
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    axes[-1].set_xlabel("iteration")
    if title:
        axes[0].set_title(title)
    fig.tight_layout()
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=100)
    plt.close(fig)
    return panels
