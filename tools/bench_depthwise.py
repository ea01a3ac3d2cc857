"""Benchmark: forward + backward of MobileNet v1's depthwise convolutions (3x3, group ==
channels) in layerflow (direct kernels, kernels/cpu/depthwise_conv.py) and PyTorch CPU
(conv2d groups=C), in one process, alternating rounds, same threads, float32; with --im2col
also layerflow's grouped im2col path, which these layers took before; with --forward the
forward alone (PyTorch without autograd), as in a forward-only net.

    python tools/bench_depthwise.py [--batch 8] [--threads 2] [--rounds 7] [--iters 5]
                                    [--forward]

Prints per layer the median ms of one forward+backward (data and weight gradients on both
sides) and the median of the per-round ratios layerflow / PyTorch.
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from bench_layers_b import layerflow_case, torch_case  # noqa: E402

LAYERS = [  # name, (C, H, W), stride: MobileNet v1 at 224x224
    ("conv2_1/dw", (32, 112, 112), 1), ("conv2_2/dw", (64, 112, 112), 2),
    ("conv3_1/dw", (128, 56, 56), 1), ("conv3_2/dw", (128, 56, 56), 2),
    ("conv4_1/dw", (256, 28, 28), 1), ("conv4_2/dw", (256, 28, 28), 2),
    ("conv5_1/dw", (512, 14, 14), 1), ("conv5_6/dw", (512, 14, 14), 2),
    ("conv6/dw", (1024, 7, 7), 1),
]


def forward_cases(batch):
    """(name, layerflow forward, PyTorch forward without autograd) per layer."""
    import torch
    from layerflow.blob import Blob
    from layerflow.config import Where, from_mapping
    from layerflow.registry import get_layer_class
    cls = get_layer_class("ConvolutionDepthwise")
    rng = np.random.default_rng(0)
    out = []
    for name, (c, h, w), s in LAYERS:
        layer = cls(from_mapping(cls.Params, {"kernel_size": 3, "pad": 1, "stride": s,
                                              "bias_term": False}, Where()),
                    name, "TEST", None, rng, np.float32)
        bottom, top = [Blob((batch, c, h, w), np.float32)], [Blob((), np.float32)]
        bottom[0].data[...] = rng.normal(size=bottom[0].shape)
        layer.setup(bottom, top)
        tx = torch.from_numpy(bottom[0].data.copy())
        tw = torch.from_numpy(layer.blobs[0].data.copy())

        def lf(n, layer=layer, bottom=bottom, top=top):
            for _ in range(n):
                layer.reshape(bottom, top)
                layer.forward(bottom, top)

        def pt(n, tx=tx, tw=tw, s=s, c=c):
            with torch.no_grad():
                for _ in range(n):
                    torch.nn.functional.conv2d(tx, tw, None, s, 1, 1, c)
        out.append([name, lf, pt])
    return out


def cases(batch, im2col):
    import torch
    F = torch.nn.functional
    import layerflow.layers.convolution_depthwise as dwl
    out = []
    for name, (c, h, w), s in LAYERS:
        shape = (batch, c, h, w)
        params = {"num_output": c, "group": c, "kernel_size": 3, "pad": 1, "stride": s}

        def conv(xs, p, c=c, s=s):
            if not p:
                p += [torch.randn(c, 1, 3, 3, requires_grad=True),
                      torch.zeros(c, requires_grad=True)]
            return F.conv2d(xs[0], p[0], p[1], stride=s, padding=1, groups=c)
        row = [name, layerflow_case("Convolution", params, [shape]), torch_case(conv, [shape])]
        if im2col:
            applies = dwl.depthwise_applies
            dwl.depthwise_applies = lambda g, ch: False
            try:
                row.append(layerflow_case("Convolution", params, [shape]))
            finally:
                dwl.depthwise_applies = applies
        out.append(row)
    return out


def timed(run, iters):
    time.sleep(0.05)
    t0 = time.perf_counter()
    run(iters)
    return (time.perf_counter() - t0) / iters * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--im2col", action="store_true")
    ap.add_argument("--forward", action="store_true", help="forward only")
    args = ap.parse_args()
    import torch
    from layerflow.kernels.cpu import threads
    from layerflow.runtime import Runtime
    torch.set_num_threads(args.threads)
    os.environ["LAYERFLOW_NUM_THREADS"] = str(args.threads)   # the layers' runtime
    threads.apply(Runtime.create().for_net(own_threads=True))
    print(f"depthwise 3x3, batch {args.batch}, "
          f"{'forward' if args.forward else 'forward+backward'}, float32, {args.threads} "
          f"threads, median of {args.rounds} rounds x {args.iters} iterations, "
          f"load {os.getloadavg()[0]:.1f}")
    print("| layer | layerflow ms | PyTorch ms | ratio |" + (" im2col ms |" if args.im2col else ""))
    print("|---|---|---|---|" + ("---|" if args.im2col else ""))
    rows = forward_cases(args.batch) if args.forward else cases(args.batch, args.im2col)
    for row in rows:
        name, runs = row[0], row[1:]
        for r in runs:
            r(1)
        times = [[] for _ in runs]
        for _ in range(args.rounds):
            for r, t in zip(runs, times):
                t.append(timed(r, args.iters))
        ratio = statistics.median(a / b for a, b in zip(times[0], times[1]))
        cells = [f"{statistics.median(t):.2f}" for t in times]
        extra = f" {cells[2]} |" if args.im2col else ""
        print(f"| {name} | {cells[0]} | {cells[1]} | {ratio:.2f} |{extra}", flush=True)


if __name__ == "__main__":
    main()
