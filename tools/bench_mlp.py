"""Benchmark: the MNIST MLP (784-500-300-10, batch 64, SGD with momentum and weight decay)
trained in layerflow and in PyTorch CPU, in one process, alternating rounds, same threads.

    python tools/bench_mlp.py [--rounds 7] [--iters 200] [--threads N] [--first-iteration]

Prints the median ms per training iteration of each and the ratio layerflow / PyTorch.
Both train on a fixed in-memory batch (no data loading on either side). Each side gets the
same N threads: layerflow its own setup (OpenBLAS with N threads for a dense net, see
layerflow/kernels/cpu/threads.py), PyTorch `torch.set_num_threads(N)`. Idle OpenBLAS and
OpenMP threads spin for a while after their work, stealing the cores from whichever side
runs next, so each timed block starts after a 0.3 s pause, and blocks are long (200
iterations) so that waking the threads does not count. With
--first-iteration it also measures, in fresh processes, the time from start to the end of
the first training iteration of `configs/mlp.yaml` (MNIST read included) with an empty and
with a warm Numba cache.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NET = """
solver: {type: SGD, base_lr: 0.01, momentum: 0.9, weight_decay: 0.0005, lr_policy: inv,
         gamma: 0.0001, power: 0.75, max_iter: 1000000, random_seed: 1,
         snapshot_after_train: false}
net:
  layers:
    - {name: data, type: DummyData, top: [data, label], shape: [[64, 1, 28, 28], [64]],
       data_filler: [{type: uniform, min: 0, max: 1}, {type: uniform, min: 0, max: 9.99}]}
    - {name: ip1, type: InnerProduct, bottom: data, top: ip1, num_output: 500,
       param: [{lr_mult: 1}, {lr_mult: 2}]}
    - {name: relu1, type: ReLU, bottom: ip1, top: ip1}
    - {name: ip2, type: InnerProduct, bottom: ip1, top: ip2, num_output: 300,
       param: [{lr_mult: 1}, {lr_mult: 2}]}
    - {name: relu2, type: ReLU, bottom: ip2, top: ip2}
    - {name: ip3, type: InnerProduct, bottom: ip2, top: ip3, num_output: 10,
       param: [{lr_mult: 1}, {lr_mult: 2}]}
    - {name: loss, type: SoftmaxWithLoss, bottom: [ip3, label], top: loss}
"""

FIRST_ITERATION = """
import time, sys
t0 = time.perf_counter()
from layerflow.solvers import Solver
solver = Solver(sys.argv[1], max_iter=1, quiet=True)
solver.p.snapshot_prefix = sys.argv[2]
solver.step(1)
print(time.perf_counter() - t0)
"""


def layerflow_trainer():
    from layerflow.config import load_yaml_text
    from layerflow.solvers import Solver
    solver = Solver(load_yaml_text(NET), quiet=True)
    return lambda n: solver.step(n)


def torch_trainer(x, y):
    import torch
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 500), torch.nn.ReLU(),
                                torch.nn.Linear(500, 300), torch.nn.ReLU(),
                                torch.nn.Linear(300, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def run(n):
        for _ in range(n):
            opt.zero_grad(set_to_none=False)
            loss_fn(model(tx), ty).backward()
            opt.step()
    return run


def first_iteration(config, cache_dir, prefix):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", FIRST_ITERATION, config, prefix], env=env,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip()), time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--first-iteration", action="store_true")
    args = ap.parse_args()

    os.environ["LAYERFLOW_NUM_THREADS"] = str(args.threads)   # the runtime of every net
    import torch
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (64, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    runners = {"layerflow": layerflow_trainer(), "pytorch": torch_trainer(x, y)}
    for run in runners.values():      # warm up: compile kernels, fault pages in
        run(20)
    times = {k: [] for k in runners}
    for _ in range(args.rounds):
        for name, run in runners.items():
            time.sleep(0.3)   # let the other side's idle threads stop spinning first
            t0 = time.perf_counter()
            run(args.iters)
            times[name].append((time.perf_counter() - t0) / args.iters * 1e3)
    lf, pt = statistics.median(times["layerflow"]), statistics.median(times["pytorch"])
    ratios = [a / b for a, b in zip(times["layerflow"], times["pytorch"])]
    print(f"MLP 784-500-300-10, batch 64, train iteration, {args.threads} threads "
          f"({args.rounds} rounds x {args.iters} iterations)")
    print(f"  layerflow {lf:7.3f} ms/iter")
    print(f"  pytorch   {pt:7.3f} ms/iter")
    print(f"  ratio layerflow/pytorch {lf / pt:.3f} (median of per-round ratios "
          f"{statistics.median(ratios):.3f})")
    if args.first_iteration:
        config = str(ROOT / "configs" / "mlp.yaml")
        with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as snaps:
            cold = first_iteration(config, cache, f"{snaps}/s")
            warm = first_iteration(config, cache, f"{snaps}/s")
        print("time to first training iteration of configs/mlp.yaml (MNIST read included):")
        print(f"  empty Numba cache {cold[0]:6.2f} s in-process ({cold[1]:.2f} s with "
              "interpreter start)")
        print(f"  warm Numba cache  {warm[0]:6.2f} s in-process ({warm[1]:.2f} s with "
              "interpreter start)")


if __name__ == "__main__":
    main()
