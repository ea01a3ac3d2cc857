"""Benchmark: forward + backward of the convolutions and poolings of LeNet and
cifar10-quick, one layer at a time, in layerflow and PyTorch CPU, in one process,
alternating rounds, same threads, float32.

    python tools/bench_conv.py [--threads 1] [--rounds 9] [--iters 10] [--only conv]
                               [--set classic|resnet|mobilenet|all]

Prints per layer the median ms of one forward+backward (data gradient included on both
sides) of each, the median of the per-round ratios layerflow / PyTorch and, for the
convolutions, GFLOP/s (3 products of 2 N M P C kh kw each; 1 for the forward-only
rows). At --threads 1 this is each framework's own kernel speed; docs/convolution.md has
the numbers. --set resnet: ResNet-20's convolutions at batch 128 (training); mobilenet:
MobileNet-v1's pointwise (1x1) layers, forward only, at batch 1 and 16.
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from bench_layers_b import layerflow_case, torch_case  # noqa: E402

CONVS = [  # name, (N, C, H, W), num_output, kernel, pad[, stride, forward only]
    ("LeNet conv1", (64, 1, 28, 28), 20, 5, 0),
    ("LeNet conv2", (64, 20, 12, 12), 50, 5, 0),
    ("cifar10-quick conv1", (100, 3, 32, 32), 32, 5, 2),
    ("cifar10-quick conv2", (100, 32, 16, 16), 32, 5, 2),
    ("cifar10-quick conv3", (100, 32, 8, 8), 64, 5, 2),
]
RESNET = [
    ("ResNet-20 stage-1 conv 16, 32x32", (128, 16, 32, 32), 16, 3, 1),
    ("ResNet-20 s2b1_conv1 16->32 /2", (128, 16, 32, 32), 32, 3, 1, 2),
    ("ResNet-20 s2b1_proj 1x1/2", (128, 16, 32, 32), 32, 1, 0, 2),
    ("ResNet-20 stage-2 conv 32, 16x16", (128, 32, 16, 16), 32, 3, 1),
    ("ResNet-20 stage-3 conv 64, 8x8", (128, 64, 8, 8), 64, 3, 1),
]
MOBILENET = [
    (f"MobileNet {name} b{n} forward", (n, c, h, h), m, 1, 0, 1, True)
    for n in (1, 16)
    for name, c, h, m in (("conv2_pw", 32, 112, 64), ("conv4_pw", 128, 56, 128),
                          ("conv8_pw", 512, 14, 512), ("conv14_pw", 1024, 7, 1024))
]
SETS = {"classic": CONVS, "resnet": RESNET, "mobilenet": MOBILENET,
        "all": CONVS + RESNET + MOBILENET}
POOLS = [  # name, (N, C, H, W), pool, kernel, stride
    ("LeNet pool1 MAX 2/2", (64, 20, 24, 24), "MAX", 2, 2),
    ("cifar10-quick pool1 MAX 3/2", (100, 32, 32, 32), "MAX", 3, 2),
    ("cifar10-quick pool2 AVE 3/2", (100, 32, 16, 16), "AVE", 3, 2),
]


def forward_cases(params, shape, conv):
    """(layerflow, PyTorch) runs of forward only: a TEST-phase layer, and no_grad."""
    import numpy as np
    import torch
    from layerflow.blob import Blob
    from layerflow.config import Where, from_mapping
    from layerflow.registry import get_layer_class
    cls = get_layer_class("Convolution")
    layer = cls(from_mapping(cls.Params, params, Where()), "Convolution", "TEST", None,
                np.random.default_rng(0), np.float32)
    bottom, top = [Blob(shape, np.float32, name="x")], [Blob((), np.float32)]
    bottom[0].data[...] = np.random.default_rng(0).normal(size=shape)
    layer.setup(bottom, top)
    layer.reshape(bottom, top)
    x = torch.tensor(bottom[0].data)
    params_t = []
    with torch.no_grad():
        conv([x], params_t)              # makes the weights

    def lf(n):
        for _ in range(n):
            layer.forward(bottom, top)

    def pt(n):
        with torch.no_grad():
            for _ in range(n):
                conv([x], params_t)
    return lf, pt


def cases(convs=CONVS, pools=True):
    import torch
    F = torch.nn.functional
    out = []
    for name, shape, m, k, pad, *rest in convs:
        stride = rest[0] if rest else 1
        fwd_only = len(rest) > 1 and rest[1]

        def conv(xs, params, m=m, k=k, pad=pad, c=shape[1], stride=stride):
            if not params:
                params += [torch.randn(m, c, k, k, requires_grad=True),
                           torch.zeros(m, requires_grad=True)]
            return F.conv2d(xs[0], params[0], params[1], stride=stride, padding=pad)
        n, c, h, w = shape
        oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
        flops = (1 if fwd_only else 3) * 2 * n * m * oh * ow * c * k * k
        params = {"num_output": m, "kernel_size": k, "pad": pad, "stride": stride}
        if fwd_only:
            out.append((name, flops, *forward_cases(params, shape, conv)))
        else:
            out.append((name, flops, layerflow_case("Convolution", params, [shape]),
                        torch_case(conv, [shape])))
    for name, shape, pool, k, s in POOLS if pools else []:
        fn = F.max_pool2d if pool == "MAX" else F.avg_pool2d
        out.append((name, 0,
                    layerflow_case("Pooling", {"pool": pool, "kernel_size": k, "stride": s},
                                   [shape]),
                    torch_case(lambda xs, p, fn=fn, k=k, s=s: fn(xs[0], k, s, ceil_mode=True),
                               [shape])))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--only", default="")
    ap.add_argument("--set", default="classic", choices=sorted(SETS))
    args = ap.parse_args()
    import torch
    from layerflow.kernels.cpu import threads
    from layerflow.runtime import Runtime
    torch.set_num_threads(args.threads)
    os.environ["LAYERFLOW_NUM_THREADS"] = str(args.threads)   # the layers' runtime
    threads.apply(Runtime.create().for_net(own_threads=True))
    print(f"forward+backward, float32, {args.threads} threads, median of {args.rounds} "
          f"rounds x {args.iters} iterations")
    from bench import target_line
    print(target_line(torch))
    print("| layer | layerflow ms | PyTorch ms | ratio | GFLOP/s layerflow / PyTorch |")
    print("|---|---|---|---|---|")
    for name, flops, lf, pt in cases(SETS[args.set], args.set in ("classic", "all")):
        if args.only.lower() not in name.lower():
            continue
        lf(2)
        pt(2)
        tl, tp = [], []
        for _ in range(args.rounds):
            for run, times in ((lf, tl), (pt, tp)):
                time.sleep(0.05)             # the other side's idle threads stop spinning
                t0 = time.perf_counter()
                run(args.iters)
                times.append((time.perf_counter() - t0) / args.iters * 1e3)
        ratio = statistics.median(a / b for a, b in zip(tl, tp))
        ml, mp = statistics.median(tl), statistics.median(tp)
        rate = f"{flops / ml / 1e6:.0f} / {flops / mp / 1e6:.0f}" if flops else "-"
        print(f"| {name} | {ml:.2f} | {mp:.2f} | {ratio:.2f} | {rate} |", flush=True)


if __name__ == "__main__":
    main()
