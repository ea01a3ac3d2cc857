"""Benchmark: forward + backward of the part-B layers (BatchNorm, Scale, LRN, Eltwise, Concat,
Slice, Crop, Flatten) in layerflow and in PyTorch CPU, in one process, alternating rounds,
same threads, float32.

    python tools/bench_layers_b.py [--rounds 9] [--iters 20] [--threads N] [--only NAME]

Prints per case the median ms of one forward+backward of each and the median of the
per-round ratios layerflow / PyTorch. layerflow runs the layer as the Net does (reshape,
forward, backward into preallocated blobs); PyTorch runs autograd (y = f(x);
y.backward(dy)), gradients set to None between runs as an optimizer step would.
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


def layerflow_case(type_name, params, shapes, num_top=1, in_place=False, chain=None):
    from layerflow.blob import Blob
    from layerflow.config import Where, from_mapping
    from layerflow.registry import get_layer_class
    rng = np.random.default_rng(0)
    bottom = []
    for i, s in enumerate(shapes):
        b = Blob(s, np.float32, name=f"b{i}")
        b.data[...] = rng.normal(size=s)
        bottom.append(b)
    layers = []
    for t, p in [(type_name, params)] + (chain or []):
        cls = get_layer_class(t)
        layers.append(cls(from_mapping(cls.Params, p, Where()), t, "TRAIN", None,
                          np.random.default_rng(0), np.float32))
    tops = [bottom[:1] if in_place else [Blob((), np.float32) for _ in range(num_top)]]
    for layer in layers[1:]:
        tops.append(tops[-1])            # chained layers run in place on the first top
    bots = [bottom] + tops[:-1]
    for layer, b, t in zip(layers, bots, tops):
        layer.setup(b, t)
        layer.reshape(b, t)
    for t in tops[-1]:
        t.diff[...] = rng.normal(size=t.shape)
    pd = [[True] * len(b) for b in bots]
    if type_name == "Crop":
        pd[0] = [True, False]

    def run(n):
        for _ in range(n):
            for layer, b, t in zip(layers, bots, tops):
                layer.reshape(b, t)
                layer.forward(b, t)
            for layer, b, t, p in reversed(list(zip(layers, bots, tops, pd))):
                layer.backward(t, p, b)
    return run


def torch_case(fn, shapes, grads=None):
    import torch
    rng = np.random.default_rng(0)
    xs = [torch.tensor(rng.normal(size=s).astype(np.float32), requires_grad=True)
          for s in shapes]
    if grads is not None:
        xs = [x.requires_grad_(g) for x, g in zip(xs, grads)]
    params = []
    with torch.no_grad():
        out = fn(xs, params)
    outs = out if isinstance(out, (tuple, list)) else [out]
    dys = [torch.tensor(rng.normal(size=o.shape).astype(np.float32)) for o in outs]

    def run(n):
        for _ in range(n):
            for t in xs + params:
                t.grad = None
            out = fn(xs, params)
            torch.autograd.backward(out if isinstance(out, (tuple, list)) else [out], dys)
    return run


def cases():
    import torch
    F = torch.nn.functional
    big = (64, 64, 16, 16)

    def bn_scale(xs, params):
        if not params:
            params += [torch.ones(64, requires_grad=True), torch.zeros(64, requires_grad=True)]
        return F.batch_norm(xs[0], None, None, params[0], params[1], training=True)

    def scale(xs, params):
        if not params:
            params += [torch.ones(64, requires_grad=True), torch.zeros(64, requires_grad=True)]
        return xs[0] * params[0].reshape(1, -1, 1, 1) + params[1].reshape(1, -1, 1, 1)

    def lrn_within(xs, params):
        x = xs[0]
        return x * (1 + 5e-5 * F.avg_pool2d(x * x, 3, 1, 1)) ** -0.75

    return [
        ("BatchNorm train 64x64x16x16", layerflow_case("BatchNorm", {}, [big]),
         torch_case(lambda xs, p: F.batch_norm(xs[0], None, None, training=True), [big])),
        ("BatchNorm+Scale in place 64x64x16x16",
         layerflow_case("BatchNorm", {}, [big], in_place=True,
                        chain=[("Scale", {"bias_term": True})]),
         torch_case(bn_scale, [big])),
        ("Scale+bias 64x64x16x16", layerflow_case("Scale", {"bias_term": True}, [big]),
         torch_case(scale, [big])),
        ("LRN across 5, 16x96x27x27",
         layerflow_case("LRN", {"local_size": 5, "alpha": 1e-4, "beta": 0.75},
                        [(16, 96, 27, 27)]),
         torch_case(lambda xs, p: F.local_response_norm(xs[0], 5, 1e-4, 0.75, 1.0),
                    [(16, 96, 27, 27)])),
        ("LRN within 3, 100x32x16x16",
         layerflow_case("LRN", {"local_size": 3, "alpha": 5e-5, "beta": 0.75,
                                "norm_region": "WITHIN_CHANNEL"}, [(100, 32, 16, 16)]),
         torch_case(lrn_within, [(100, 32, 16, 16)])),
        ("Eltwise SUM 2x 64x64x16x16", layerflow_case("Eltwise", {}, [big, big]),
         torch_case(lambda xs, p: xs[0] + xs[1], [big, big])),
        ("Eltwise MAX 2x 64x64x16x16", layerflow_case("Eltwise", {"operation": "MAX"},
                                                      [big, big]),
         torch_case(lambda xs, p: torch.maximum(xs[0], xs[1]), [big, big])),
        ("Concat 2x 64x32x16x16 axis 1",
         layerflow_case("Concat", {}, [(64, 32, 16, 16)] * 2),
         torch_case(lambda xs, p: torch.cat(xs, 1), [(64, 32, 16, 16)] * 2)),
        ("Slice 64x64x16x16 in 2", layerflow_case("Slice", {}, [big], num_top=2),
         torch_case(lambda xs, p: torch.chunk(xs[0], 2, 1), [big])),
        ("Crop 64x21x36x36 to 32x32", layerflow_case("Crop", {"offset": [2]},
                                                     [(64, 21, 36, 36), (64, 21, 32, 32)]),
         torch_case(lambda xs, p: xs[0][:, :, 2:34, 2:34], [(64, 21, 36, 36)])),
        ("Flatten 64x64x16x16", layerflow_case("Flatten", {}, [big]),
         torch_case(lambda xs, p: xs[0].flatten(1), [big])),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    try:
        from layerflow.kernels.cpu import threads
        from layerflow.runtime import Runtime
        os.environ["LAYERFLOW_NUM_THREADS"] = str(args.threads)   # the layers' runtime
        threads.apply(Runtime.create().for_net(own_threads=False))
    except ImportError:
        pass
    print(f"forward+backward, float32, {args.threads} threads, median of {args.rounds} "
          f"rounds x {args.iters} iterations")
    print(f"{'case':40s} {'layerflow ms':>13s} {'pytorch ms':>11s} {'ratio':>7s}")
    for name, lf, pt in cases():
        if args.only.lower() not in name.lower():
            continue
        lf(3)
        pt(3)
        tl, tp = [], []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            lf(args.iters)
            tl.append((time.perf_counter() - t0) / args.iters * 1e3)
            t0 = time.perf_counter()
            pt(args.iters)
            tp.append((time.perf_counter() - t0) / args.iters * 1e3)
        ratio = statistics.median(a / b for a, b in zip(tl, tp))
        print(f"{name:40s} {statistics.median(tl):13.3f} {statistics.median(tp):11.3f} "
              f"{ratio:7.2f}")


if __name__ == "__main__":
    main()
