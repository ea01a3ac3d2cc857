"""layerflow's fused update kernels vs PyTorch's optimizers (CPU), in one process.

    python tools/bench_solvers.py            # 1M-element float32 param, every rule
    python tools/bench_solvers.py --size 535000 --blocks 30

Each rule updates one flat float32 param of --size elements with a fixed gradient: layerflow
calls the solver's update (the same call Solver.apply_update makes: one fused Numba pass
with weight decay folded in), PyTorch calls `optimizer.step()` (default implementation, weight
decay on). The two run alternately in blocks of a few steps, so that load from other
processes hits both alike; the table gives median ms per step and the median ratio.
"norm" is the extra pass the solver makes every iteration for the global gradient norm
(clipping) and the non-finite guard.

    python tools/bench_solvers.py --train 300    # needs MNIST under $LAYERFLOW_DATA

trains configs/mlp.yaml for 300 iterations with each rule, at the hyperparameters of Caffe's
example solvers (fixed rate), and prints the smoothed loss and the test accuracy.
"""
import argparse
import os
import statistics
import time

import numpy as np
import torch

from layerflow.kernels.cpu.adadelta import adadelta_update
from layerflow.kernels.cpu.adagrad import adagrad_update
from layerflow.kernels.cpu.adam import adam_update
from layerflow.kernels.cpu.adamw import adamw_update
from layerflow.kernels.cpu.nesterov import nesterov_update
from layerflow.kernels.cpu.rmsprop import rmsprop_update
from layerflow.kernels.cpu.sgd import sgd_update
from layerflow.kernels.cpu.solver_norms import sumsq

LR, WD = 1e-3, 1e-4


def rules(w, g):
    h = [np.zeros_like(w), np.zeros_like(w)]
    return {
        "SGD": (lambda: sgd_update(w, g, h[0], LR, 0.9, 1.0, WD, False),
                lambda p: torch.optim.SGD(p, lr=LR, momentum=0.9, weight_decay=WD)),
        "Nesterov": (lambda: nesterov_update(w, g, h[0], LR, 0.9, 1.0, WD, False),
                     lambda p: torch.optim.SGD(p, lr=LR, momentum=0.9, nesterov=True,
                                               weight_decay=WD)),
        "AdaGrad": (lambda: adagrad_update(w, g, h[0], LR, 1.0, WD, False, 1e-8),
                    lambda p: torch.optim.Adagrad(p, lr=LR, eps=1e-8, weight_decay=WD)),
        "RMSProp": (lambda: rmsprop_update(w, g, h[0], LR, 1.0, WD, False, 0.99, 1e-8),
                    lambda p: torch.optim.RMSprop(p, lr=LR, alpha=0.99, eps=1e-8,
                                                  weight_decay=WD)),
        "AdaDelta": (lambda: adadelta_update(w, g, h[0], h[1], LR, 1.0, WD, False, 0.95, 1e-6),
                     lambda p: torch.optim.Adadelta(p, lr=LR, rho=0.95, eps=1e-6,
                                                    weight_decay=WD)),
        "Adam": (lambda: adam_update(w, g, h[0], h[1], LR, 1.0, WD, False, 0.9, 0.999, 1e-8,
                                     0.5),
                 lambda p: torch.optim.Adam(p, lr=LR, eps=1e-8, weight_decay=WD)),
        "AdamW": (lambda: adamw_update(w, g, h[0], h[1], LR, 1.0, WD, False, 0.9, 0.999, 1e-8,
                                       0.5),
                  lambda p: torch.optim.AdamW(p, lr=LR, eps=1e-8, weight_decay=WD)),
    }


def timed(fn, n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e3)
    return out


# Caffe's example hyperparameters (examples/mnist/lenet_solver_*.prototxt, the autoencoder's)
TRAIN = {"SGD": dict(base_lr=0.01, momentum=0.9), "Nesterov": dict(base_lr=0.01, momentum=0.95),
         "AdaGrad": dict(base_lr=0.01), "RMSProp": dict(base_lr=0.01, rms_decay=0.98),
         "AdaDelta": dict(base_lr=1.0, momentum=0.95, delta=1e-6),
         "Adam": dict(base_lr=0.001, momentum=0.9, momentum2=0.999),
         "AdamW": dict(base_lr=0.001, weight_decay=0.01)}


def train(iters):
    import tempfile
    from layerflow.config import load_yaml
    from layerflow.solvers import Solver
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    print(f"configs/mlp.yaml, {iters} iterations, fixed rate")
    print(f"{'rule':10s} {'loss':>6s} {'test acc':>8s} {'s':>6s}")
    with tempfile.TemporaryDirectory() as tmp:
        for kind, p in TRAIN.items():
            cfg = load_yaml(os.path.join(root, "configs", "mlp.yaml"))
            s = cfg["solver"]
            for k in ("momentum", "lr_policy", "gamma", "power"):
                s.pop(k, None)
            s.update(type=kind, snapshot_prefix=os.path.join(tmp, kind), display=0,
                     test_interval=iters, test_iter=100, max_iter=iters, **p)
            t = time.perf_counter()
            sol = Solver(cfg, quiet=True).solve()
            print(f"{kind:10s} {sol.smoothed_loss:6.3f} {sol.last_test['accuracy']:8.4f} "
                  f"{time.perf_counter() - t:6.1f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--blocks", type=int, default=20)
    ap.add_argument("--per-block", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: its default)")
    ap.add_argument("--train", type=int, default=0, metavar="N",
                    help="instead: train the MNIST MLP N iterations with each rule")
    args = ap.parse_args()
    if args.train:
        return train(args.train)
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"param: {args.size} float32; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {os.cpu_count()} CPUs")
    print(f"{'rule':10s} {'layerflow ms':>13s} {'PyTorch ms':>11s} {'ratio':>6s}")
    w = rng.standard_normal(args.size).astype(np.float32)
    g = (rng.standard_normal(args.size) * 1e-2).astype(np.float32)
    for name, (lf, make) in rules(w, g).items():
        p = torch.nn.Parameter(torch.from_numpy(rng.standard_normal(args.size)
                                                .astype(np.float32)))
        p.grad = torch.from_numpy(g.copy())
        opt = make([p])
        lf(), opt.step()                      # compile / create state
        a, b, ratios = [], [], []
        for _ in range(args.blocks):
            ta, tb = timed(lf, args.per_block), timed(opt.step, args.per_block)
            a += ta
            b += tb
            ratios.append(statistics.median(ta) / statistics.median(tb))
        print(f"{name:10s} {statistics.median(a):13.3f} {statistics.median(b):11.3f} "
              f"{statistics.median(ratios):6.2f}")
    sumsq(g)
    t = timed(lambda: sumsq(g), args.blocks * args.per_block)
    tt = timed(lambda: torch.linalg.vector_norm(p.grad), args.blocks * args.per_block)
    print(f"{'norm':10s} {statistics.median(t):13.3f} {statistics.median(tt):11.3f} "
          f"{statistics.median(t) / statistics.median(tt):6.2f}")


if __name__ == "__main__":
    main()
