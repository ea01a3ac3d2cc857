"""layerflow vs PyTorch (CPU), same nets, shapes and thread count, in one process.

    python tools/bench.py                  # all models, table of median ms and ratios
    python tools/bench.py --only lenet_train --profile     # + layerflow per-layer ms
    python tools/bench.py --mode cuda      # layerflow CUDA vs PyTorch CUDA, same card

Models: LeNet training iteration (batch 64), LeNet forward (batch 100), cifar10-quick
training iteration (batch 100), MNIST MLP 784-500-300-10 training iteration (batch 64),
ResNet-20 (CIFAR shapes) training iteration (batch 128) and MobileNet-v1 forward at 224x224
(batch 1 and 16), the last two from the model zoo's *_dummy.yaml nets with the DummyData
layers replaced by an Input layer; these big nets run fewer iterations by default (ITERS).
A training iteration is forward + backward + SGD update (momentum 0.9, weight decay) in
both frameworks. The two run alternately in blocks of a few iterations, so that load from
other processes hits both alike; the table gives medians over all timed iterations.
The layerflow nets are built from YAML with Input layers (net.blobs[...].data[...] = x).
Each block starts after a short sleep (--pause): PyTorch's OpenMP threads spin for a while
after its last op, and without the pause they took the cores from the first layerflow
iterations of each block (the layerflow side read 10-15 % slower on LeNet).
"Time to first iteration" is measured from building the net (layerflow: including loading
or compiling the Numba kernels) to the end of the first iteration.
With --mode cuda both run on the GPU (layerflow's numba.cuda kernels, PyTorch's CUDA build),
each step ending in a device synchronize so that the clock sees the work; "CPU ms" is then
the host's share (Python, launches).
"""
import argparse
import os
import sys
import time

# PyTorch runs with its default OpenMP wait policy: OMP_WAIT_POLICY=PASSIVE made PyTorch's
# LeNet iteration ~30% slower (9.6 -> 13 ms: every op wakes sleeping threads), ACTIVE made
# its threads spin through the layerflow blocks (layerflow 13 -> 19 ms).

import numpy as np
import yaml


def _conv(name, bottom, n, k, pad=0, std=None):
    filler = "{type: xavier}" if std is None else f"{{type: gaussian, std: {std}}}"
    return (f"- {{name: {name}, type: Convolution, bottom: {bottom}, top: {name}, "
            f"num_output: {n}, kernel_size: {k}, pad: {pad}, weight_filler: {filler}, "
            f"param: [{{lr_mult: 1}}, {{lr_mult: 2}}]}}\n")


def _ip(name, bottom, n, std=None):
    filler = "{type: xavier}" if std is None else f"{{type: gaussian, std: {std}}}"
    return (f"- {{name: {name}, type: InnerProduct, bottom: {bottom}, top: {name}, "
            f"num_output: {n}, weight_filler: {filler}, "
            f"param: [{{lr_mult: 1}}, {{lr_mult: 2}}]}}\n")


def _pool(name, bottom, pool, k, s):
    return (f"- {{name: {name}, type: Pooling, bottom: {bottom}, top: {name}, pool: {pool}, "
            f"kernel_size: {k}, stride: {s}}}\n")


def _relu(name, blob):
    return f"- {{name: {name}, type: ReLU, bottom: {blob}, top: {blob}}}\n"


def lenet_yaml(batch, train):
    body = (_conv("conv1", "data", 20, 5) + _pool("pool1", "conv1", "MAX", 2, 2)
            + _conv("conv2", "pool1", 50, 5) + _pool("pool2", "conv2", "MAX", 2, 2)
            + _ip("ip1", "pool2", 500) + _relu("relu1", "ip1") + _ip("ip2", "ip1", 10))
    return _net(body, batch, (1, 28, 28), "ip2", train)


def cifar_yaml(batch, train):
    body = (_conv("conv1", "data", 32, 5, 2, 0.0001) + _pool("pool1", "conv1", "MAX", 3, 2)
            + _relu("relu1", "pool1") + _conv("conv2", "pool1", 32, 5, 2, 0.01)
            + _relu("relu2", "conv2") + _pool("pool2", "conv2", "AVE", 3, 2)
            + _conv("conv3", "pool2", 64, 5, 2, 0.01) + _relu("relu3", "conv3")
            + _pool("pool3", "conv3", "AVE", 3, 2) + _ip("ip1", "pool3", 64, 0.1)
            + _ip("ip2", "ip1", 10, 0.1))
    return _net(body, batch, (3, 32, 32), "ip2", train)


def mlp_yaml(batch, train):
    body = (_ip("ip1", "data", 500) + _relu("relu1", "ip1") + _ip("ip2", "ip1", 300)
            + _relu("relu2", "ip2") + _ip("ip3", "ip2", 10))
    return _net(body, batch, (784,), "ip3", train)


ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def _zoo_yaml(path, out):
    """Builder for a zoo net: its layers without DummyData, Accuracy and the loss (_net adds
    the Input layer and, when training, the loss on `out`)."""
    def build(batch, train):
        with open(os.path.join(ROOT, path)) as f:
            layers = yaml.safe_load(f)["net"]["layers"]
        layers = [l for l in layers
                  if l["type"] not in ("DummyData", "Accuracy", "SoftmaxWithLoss")]
        shape = (3, 32, 32) if "resnet20" in path else (3, 224, 224)
        return _net(yaml.safe_dump(layers), batch, shape, out, train)
    return build


resnet20_yaml = _zoo_yaml("models/resnet20_cifar/resnet20_cifar_dummy.yaml", "fc")
mobilenet_yaml = _zoo_yaml("models/mobilenet_v1/mobilenet_v1_dummy.yaml", "fc")


def _net(body, batch, shape, out, train):
    shapes = f"[[{batch}, {', '.join(map(str, shape))}], [{batch}]]"
    head = f"- {{name: input, type: Input, top: [data, label], shape: {shapes}}}\n"
    tail = f"- {{name: loss, type: SoftmaxWithLoss, bottom: [{out}, label], top: loss}}\n"
    layers = yaml.safe_load(head + body + (tail if train else ""))
    net = {"name": "bench", "layers": layers}
    if not train:
        return net
    solver = {"type": "SGD", "base_lr": 0.01, "momentum": 0.9, "weight_decay": 0.0005,
              "lr_policy": "fixed", "max_iter": 1000000, "test_interval": 0, "test_iter": 0,
              "display": 0, "snapshot": 0, "snapshot_after_train": False,
              "snapshot_prefix": "/tmp/layerflow_bench", "random_seed": 1}
    return {"name": "bench", "solver": solver, "net": net}


# -- PyTorch twins ---------------------------------------------------------------------------
def torch_model(kind):
    import torch
    nn = torch.nn
    if kind == "lenet":
        return nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2, 2), nn.Conv2d(20, 50, 5),
                             nn.MaxPool2d(2, 2), nn.Flatten(), nn.Linear(800, 500), nn.ReLU(),
                             nn.Linear(500, 10))
    if kind == "cifar":
        return nn.Sequential(nn.Conv2d(3, 32, 5, padding=2), nn.MaxPool2d(3, 2, ceil_mode=True),
                             nn.ReLU(), nn.Conv2d(32, 32, 5, padding=2), nn.ReLU(),
                             nn.AvgPool2d(3, 2, ceil_mode=True), nn.Conv2d(32, 64, 5, padding=2),
                             nn.ReLU(), nn.AvgPool2d(3, 2, ceil_mode=True), nn.Flatten(),
                             nn.Linear(1024, 64), nn.Linear(64, 10))
    if kind == "resnet20":
        return _torch_resnet20(torch)
    if kind == "mobilenet":
        return _torch_mobilenet(torch)
    return nn.Sequential(nn.Linear(784, 500), nn.ReLU(), nn.Linear(500, 300), nn.ReLU(),
                         nn.Linear(300, 10))


def _conv_bn(nn, cin, cout, k, stride, groups=1, relu=True):
    """Convolution without bias, BatchNorm2d(affine) (= Caffe's BatchNorm + Scale), ReLU."""
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, *([nn.ReLU(inplace=True)] if relu else []))


def _torch_resnet20(torch):
    """resnet20_cifar_dummy.yaml's net: conv 16, 3 stages of 3 basic blocks (16/32/64),
    stride 2 and a 1x1 projection shortcut (conv-BN) at the first block of stages 2 and 3."""
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.a = _conv_bn(nn, cin, cout, 3, stride)
            self.b = _conv_bn(nn, cout, cout, 3, 1, relu=False)
            self.proj = _conv_bn(nn, cin, cout, 1, stride, relu=False) if stride != 1 else None

        def forward(self, x):
            s = x if self.proj is None else self.proj(x)
            return torch.relu(s + self.b(self.a(x)))

    blocks, cin = [], 16
    for cout, stride in ((16, 1), (32, 2), (64, 2)):
        for i in range(3):
            blocks.append(Block(cin, cout, stride if i == 0 else 1))
            cin = cout
    return nn.Sequential(_conv_bn(nn, 3, 16, 3, 1), *blocks, nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(64, 10))


def _torch_mobilenet(torch):
    """mobilenet_v1_dummy.yaml's net: conv 3x3/2 32, 13 blocks of depthwise 3x3 (groups=C)
    and pointwise 1x1, each conv-BN-ReLU, global average pooling, Linear 1000."""
    nn = torch.nn
    layers, cin = [_conv_bn(nn, 3, 32, 3, 2)], 32
    for cout, stride in ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1),
                         (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)):
        layers += [_conv_bn(nn, cin, cin, 3, stride, groups=cin), _conv_bn(nn, cin, cout, 1, 1)]
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1024, 1000))


MODELS = {  # name: (kind, layerflow yaml builder, batch, input shape, train)
    "lenet_train": ("lenet", lenet_yaml, 64, (1, 28, 28), True),
    "lenet_forward": ("lenet", lenet_yaml, 100, (1, 28, 28), False),
    "cifar10_quick_train": ("cifar", cifar_yaml, 100, (3, 32, 32), True),
    "mlp_train": ("mlp", mlp_yaml, 64, (784,), True),
    "resnet20_train": ("resnet20", resnet20_yaml, 128, (3, 32, 32), True),
    "mobilenet_forward_b1": ("mobilenet", mobilenet_yaml, 1, (3, 224, 224), False),
    "mobilenet_forward_b16": ("mobilenet", mobilenet_yaml, 16, (3, 224, 224), False),
}
ITERS = {  # name: (timed iterations, block) where --iters/--block are not given
    "resnet20_train": (20, 2),
    "mobilenet_forward_b1": (40, 5),
    "mobilenet_forward_b16": (10, 1),
}


class LayerflowRunner:
    def __init__(self, builder, batch, shape, train, x, y, mode="cpu"):
        from layerflow import Net
        from layerflow.solvers import Solver
        t0 = time.perf_counter()
        cfg = builder(batch, train)
        self.sync = _cuda_sync if mode == "cuda" else (lambda: None)
        if train:
            self.solver = Solver(cfg, quiet=True, mode=mode)
            self.net = self.solver.net
        else:
            self.net = Net(cfg, "test", mode=mode)
        self.net.blobs["data"].data[...] = x
        self.net.blobs["label"].data[...] = y
        if not train:   # BatchNorm's stored statistics as PyTorch's fresh ones (mean 0, var 1):
            for layer in self.net.layers:   # Caffe's start at var 0, each BatchNorm then scales
                if layer.type_name == "BatchNorm":  # by 1/sqrt(eps) and MobileNet reaches inf
                    layer.blobs[1].data[...] = 1.0
                    layer.blobs[2].data[...] = 1.0
        self.train = train
        self.step()
        self.first = time.perf_counter() - t0

    def step(self):
        if self.train:
            self.solver.step(1)
        else:
            self.net.forward()
        self.sync()


def _cuda_sync():
    from numba import cuda
    cuda.synchronize()


class TorchRunner:
    def __init__(self, kind, train, x, y, mode="cpu"):
        import torch
        t0 = time.perf_counter()
        self.torch = torch
        self.device = "cuda" if mode == "cuda" else "cpu"
        self.model = torch_model(kind).to(self.device)
        self.model.train(train)                 # forward only: BatchNorm in eval mode
        self.x = torch.from_numpy(x).to(self.device)
        self.y = torch.from_numpy(y.astype(np.int64)).to(self.device)
        self.train = train
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9,
                                   weight_decay=0.0005) if train else None
        self.step()
        self.first = time.perf_counter() - t0

    def step(self):
        torch = self.torch
        if self.train:
            self.opt.zero_grad(set_to_none=False)
            self.out = self.model(self.x)
            loss = torch.nn.functional.cross_entropy(self.out, self.y)
            loss.backward()
            self.opt.step()
        else:
            with torch.no_grad():
                self.out = self.model(self.x)
        if self.device == "cuda":
            torch.cuda.synchronize()


def time_block(runner, n, out, cpu=None):
    """Wall time of each of n steps into `out`; the process CPU time (all threads) into
    `cpu`: on a loaded machine wall time swings with other processes, CPU time much less."""
    for _ in range(n):
        t, c = time.perf_counter(), time.process_time()
        runner.step()
        out.append(time.perf_counter() - t)
        if cpu is not None:
            cpu.append(time.process_time() - c)


def profile(net, iters, sync=lambda: None):
    """Median forward and backward ms per layer of a layerflow net (`sync` waits for the
    device after each layer in CUDA mode). The forward goes by the net's steps, as
    net.forward() runs them: a folded BatchNorm's row times its Scale and ReLU too."""
    fw = {l.name: [] for l in net.layers}
    bw = {l.name: [] for l in net.layers}
    for _ in range(iters):
        for layer, b, t, fold in net._steps:
            s = time.perf_counter()
            layer.reshape(b, t)
            if fold is None:
                layer.forward(b, t)
            else:
                layer.forward_folded(b, t, *fold)
            sync()
            fw[layer.name].append(time.perf_counter() - s)
        for i in range(len(net.layers) - 1, -1, -1):
            if net.layer_need_backward[i]:
                s = time.perf_counter()
                net.layers[i].backward(net.top_vecs[i], net.bottom_need_backward[i],
                                       net.bottom_vecs[i])
                sync()
                bw[net.layers[i].name].append(time.perf_counter() - s)
    folded = {f.name: layer.name for layer, _, _, fold in net._steps for f in fold or ()
              if f is not None}
    print(f"  {'layer':<10} {'forward ms':>10} {'backward ms':>11}")
    total_f = total_b = 0.0
    for layer in net.layers:
        f = np.median(fw[layer.name]) * 1e3 if fw[layer.name] else 0.0
        b = np.median(bw[layer.name]) * 1e3 if bw[layer.name] else 0.0
        total_f, total_b = total_f + f, total_b + b
        note = f"  (in {folded[layer.name]})" if layer.name in folded else ""
        print(f"  {layer.name:<10} {f:>10.3f} {b:>11.3f}{note}")
    print(f"  {'total':<10} {total_f:>10.3f} {total_b:>11.3f}")


def target_line(torch):
    """The CPU target of both sides: what Numba compiles for (NUMBA_CPU_NAME/FEATURES) and
    the ISA PyTorch's kernels may use (ONEDNN_MAX_CPU_ISA)."""
    from layerflow.kernels.cpu import isa
    capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability",
                         lambda: "?")()
    return (f"layerflow target: {isa.features()}; PyTorch: {capability}, "
            f"ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', 'unset')}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(MODELS), help="models to run")
    parser.add_argument("--threads", type=int, help="threads for both (default: the CPUs)")
    parser.add_argument("--iters", type=int,
                        help="timed iterations per side (default 100; ITERS for big nets)")
    parser.add_argument("--block", type=int,
                        help="iterations per alternation (default 5; ITERS for big nets)")
    parser.add_argument("--pause", type=float, default=0.2,
                        help="seconds of sleep before each block, so that the other side's "
                             "idle threads have stopped spinning (0: none)")
    parser.add_argument("--profile", action="store_true", help="layerflow per-layer ms")
    parser.add_argument("--mode", choices=["cpu", "cuda"], default="cpu",
                        help="cuda: both frameworks on the GPU (default: cpu)")
    parser.add_argument("--mpi", type=int, metavar="K",
                        help="instead: LeNet training on MNIST at 1 and K MPI ranks (one thread "
                             "each): images/s, scaling efficiency, allreduce time and overlap")
    parser.add_argument("--mpi-repeat", type=int, default=3,
                        help="runs per rank count with --mpi, alternating (medians)")
    parser.add_argument("--mpi-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mpi or args.mpi_worker:
        args.iters = args.iters or 100
        return bench_mpi(args)

    import torch
    from layerflow.runtime import usable_cpus
    threads = args.threads or usable_cpus()
    os.environ["LAYERFLOW_NUM_THREADS"] = str(threads)     # the runtime of every net below
    torch.set_num_threads(threads)
    if args.mode == "cuda":
        from numba import cuda
        card = cuda.get_current_device().name
        card = card.decode() if isinstance(card, bytes) else card
        print(f"mode cuda: {card} (PyTorch: {torch.cuda.get_device_name()})")
    print(f"threads: {threads} (layerflow: numba + BLAS; torch.set_num_threads), "
          f"{args.iters or 100} timed iterations each (big nets: {ITERS}), alternating in "
          f"blocks of {args.block or 5}, {args.pause} s pause before each block")
    print(target_line(torch))
    rows, load = [], os.getloadavg()
    for name in args.only or MODELS:
        kind, builder, batch, shape, train = MODELS[name]
        rng = np.random.default_rng(0)
        x = rng.normal(size=(batch,) + shape).astype(np.float32)
        y = rng.integers(0, 10, batch).astype(np.float32)
        torch.manual_seed(0)
        lf = LayerflowRunner(builder, batch, shape, train, x, y, args.mode)
        for layer in lf.net.layers:
            if layer.type_name == "Convolution":
                print(f"  {name} {layer.name}: {layer.algorithm()}")
        pt = TorchRunner(kind, train, x, y, args.mode)
        out = [l.name for l in lf.net.layers if l.type_name != "SoftmaxWithLoss"][-1]
        lf_shape = tuple(lf.net.blobs[out].shape)
        if not np.isfinite(lf.net.blobs[out].data).all():
            raise SystemExit(f"{name}: layerflow {out} is not finite")
        if lf_shape != tuple(pt.out.shape):         # the two must compute the same thing
            raise SystemExit(f"{name}: layerflow {out} {lf_shape} but PyTorch output "
                             f"{tuple(pt.out.shape)}")
        iters, block = ITERS.get(name, (100, 5))
        iters, block = args.iters or iters, args.block or block
        for r in (lf, pt):
            time_block(r, min(5, block), [])    # warm up caches and pools
        t_lf, t_pt, c_lf, c_pt = [], [], [], []
        for _ in range(max(1, iters // block)):
            for r, t, c in ((lf, t_lf, c_lf), (pt, t_pt, c_pt)):
                time.sleep(args.pause)
                time_block(r, block, t, c)
        m_lf, m_pt = np.median(t_lf) * 1e3, np.median(t_pt) * 1e3
        cm_lf, cm_pt = np.median(c_lf) * 1e3, np.median(c_pt) * 1e3
        rows.append((name, batch, m_lf, m_pt, cm_lf, cm_pt, lf.first, pt.first))
        print(f"{name}: layerflow {m_lf:.2f} ms, PyTorch {m_pt:.2f} ms, ratio {m_lf / m_pt:.2f}"
              f" (CPU {cm_lf:.2f} / {cm_pt:.2f} ms)", flush=True)
        if args.profile:
            profile(lf.net, 30, lf.sync)
    print()
    print(f"load average before: {load[0]:.1f}, after: {os.getloadavg()[0]:.1f} "
          f"(on {os.cpu_count()} CPUs)")
    print("| model | batch | layerflow ms | PyTorch ms | ratio | CPU ms lf / PyTorch | CPU ratio "
          "| first iteration lf / PyTorch s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, batch, m_lf, m_pt, cm_lf, cm_pt, f_lf, f_pt in rows:
        print(f"| {name} | {batch} | {m_lf:.2f} | {m_pt:.2f} | {m_lf / m_pt:.2f} | "
              f"{cm_lf:.2f} / {cm_pt:.2f} | {cm_lf / cm_pt:.2f} | {f_lf:.2f} / {f_pt:.2f} |")
    return 0


# -- data-parallel scaling (--mpi K) -----------------------------------------------------------
def bench_mpi(args):
    """`--mpi K`: run `mpi_worker` under `mpirun -n 1` and `-n K` (LAYERFLOW_NUM_THREADS=1,
    batch 64 per rank: weak scaling, as Caffe's multi-GPU) and print one table."""
    if args.mpi_worker:
        return mpi_worker(args.iters)
    import json
    import shutil
    import subprocess
    mpirun = shutil.which("mpirun") or shutil.which("mpirun",
                                                    path=os.path.dirname(sys.executable))
    if mpirun is None:
        print("bench.py --mpi: no mpirun found (pip install mpich mpi4py)", file=sys.stderr)
        return 1
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    env = dict(os.environ, LAYERFLOW_NUM_THREADS="1", OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    runs, load = {}, os.getloadavg()
    for _ in range(args.mpi_repeat):          # alternate, so that load hits both alike
        for k in sorted({1, args.mpi}):
            cmd = [mpirun, "-n", str(k), sys.executable, os.path.abspath(__file__),
                   "--mpi-worker", "--iters", str(args.iters)]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True)
            line = [l for l in out.stdout.splitlines() if l.startswith("{")]
            if out.returncode or not line:
                print(out.stdout[-2000:] + out.stderr[-2000:], file=sys.stderr)
                return 1
            runs.setdefault(k, []).append(json.loads(line[-1]))
            print(line[-1], flush=True)
    rows = {k: {key: float(np.median([r[key] for r in rs])) for key in rs[0]}
            for k, rs in runs.items()}
    base = rows[1]["images_per_s"]
    print()
    print(f"LeNet training, MNIST, batch 64 per rank, 1 thread per rank, {args.iters} timed "
          f"iterations, medians of {args.mpi_repeat} runs; load average {load[0]:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after (on {os.cpu_count()} CPUs)")
    print("| ranks | images/s | scaling efficiency | ms/iteration | allreduce alone ms "
          "| allreduce waited ms | overlapped | waiting for the slowest rank ms |")
    print("|---|---|---|---|---|---|---|---|")
    for k, r in sorted(rows.items()):
        eff = r["images_per_s"] / (k * base)
        if k == 1:
            comm = "- | - | - | -"
        else:
            hidden = 1.0 - r["exposed_ms"] / r["blocking_ms"] if r["blocking_ms"] else 0.0
            comm = (f"{r['blocking_ms']:.2f} | {r['exposed_ms']:.2f} | "
                    f"{100 * min(max(hidden, 0.0), 1.0):.0f} % | {r['skew_ms']:.2f}")
        print(f"| {k} | {r['images_per_s']:.0f} | {100 * eff:.0f} % | {r['iter_ms']:.2f} | "
              f"{comm} |")
    print("allreduce alone: one blocking Allreduce of all gradient buckets, nothing to hide "
          "behind; waited: the part of the non-blocking one still running once every rank "
          "had finished backward; overlapped = 1 - waited / alone.")
    if args.mpi > 1:
        r = rows[args.mpi]
        print(f"overlap probe (largest bucket, then 5 ms of compute): {r['probe_tested_ms']:.3f} "
              f"ms left to wait when the request is tested every 0.5 ms, "
              f"{r['probe_untested_ms']:.3f} ms when it is not")
    return 0


def _overlap_probe(world, flat, repeats=10):
    """Median ms left to wait after an Iallreduce of `flat` and 5 ms of compute, with the
    request tested every 0.5 ms (as each layer's backward does) and without."""
    MPI = world.MPI
    result = []
    for test in (True, False):
        waits = []
        for _ in range(repeats):
            world.comm.Barrier()
            req = world.comm.Iallreduce(MPI.IN_PLACE, flat, op=MPI.SUM)
            for _ in range(10):
                end = time.perf_counter() + 5e-4
                while time.perf_counter() < end:
                    pass
                if test:
                    MPI.Request.Testall([req])
            t = time.perf_counter()
            req.Wait()
            waits.append(time.perf_counter() - t)
        result.append(float(np.median(waits)))
    return result


def mpi_worker(iters):
    """One rank: LeNet (configs/lenet.yaml, no testing, no snapshots) for `iters` timed
    iterations after 10 warm-up ones; rank 0 prints one JSON line."""
    import json
    from layerflow.config import load_config
    from layerflow.parallel import World, attach
    from layerflow.solvers import Solver
    world = World()
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    config, _ = load_config(os.path.join(root, "configs", "lenet.yaml"))
    config["solver"].update(test_interval=0, test_iter=0, display=0, snapshot=0,
                            snapshot_after_train=False)
    solver = Solver(config, quiet=True)
    dp = attach(solver, world) if world.size > 1 else None
    if dp is not None:
        dp.averager.measure_skew = True
    solver.step(10)
    if dp is not None:
        dp.averager.reset_times()
    world.comm.Barrier()
    t0 = time.perf_counter()
    solver.step(iters)
    world.comm.Barrier()
    elapsed = time.perf_counter() - t0
    blocking = dp.averager.time_blocking(20) if dp is not None else 0.0
    probe = _overlap_probe(world, max((b.flat for b in dp.averager.buckets), key=len)) \
        if dp is not None else (0.0, 0.0)
    if world.root:
        batch = 64 * world.size
        a = dp.averager if dp is not None else None
        print(json.dumps({
            "ranks": world.size, "images_per_s": batch * iters / elapsed,
            "iter_ms": 1e3 * elapsed / iters,
            "blocking_ms": 1e3 * blocking,
            "exposed_ms": 1e3 * a.exposed_s / max(a.iterations, 1) if a else 0.0,
            "mpi_calls_ms": 1e3 * a.comm_s / max(a.iterations, 1) if a else 0.0,
            "pack_ms": 1e3 * a.pack_s / max(a.iterations, 1) if a else 0.0,
            "skew_ms": 1e3 * a.skew_s / max(a.iterations, 1) if a else 0.0,
            "probe_tested_ms": 1e3 * probe[0], "probe_untested_ms": 1e3 * probe[1],
            "buckets": len(a.buckets) if a else 0,
            "values": a.count if a else 0}), flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    sys.exit(main())
