"""The data layer's share of a training iteration, with augmentation on.

    LAYERFLOW_DATA=/work/shared/data python tools/bench_data.py [--config configs/lenet.yaml]
        [--iters 40] [--rounds 5]

Builds the config's TRAIN net with its MNISTData layer's transform replaced by an augmenting
one (random rotation, random resized crop, scale) and times, per iteration, the data layer's
forward (what the net waits for: taking a prepared batch, or making it when prefetch is 0)
against the whole forward+backward. Three ways to prepare batches are run in turn, round
after round in one process (the machine is shared, so medians of rounds are reported):
  sync     prefetch: 0, the batch is made inside forward;
  thread   prefetch: 3, the layerflow pipeline (a thread; Numba kernels release the GIL);
  process  the same producer in a forked process writing into shared memory (for comparison
           only; not part of layerflow).
"""
import argparse
import multiprocessing as mp
import statistics
import time
from multiprocessing import shared_memory

import numpy as np
import yaml

from layerflow import Net

AUGMENT = [{"rotate": 10}, {"resized_crop": {"size": 28, "scale": [0.7, 1.0]}},
           {"scale": 0.00390625}]


class ProcessPrefetcher:
    """The layer's BatchProducer in a forked process; batches travel through shared memory."""

    def __init__(self, layer, depth=3):
        p = layer.producer
        self.shapes, self.dtype = p.out_shapes, p.dtype
        sizes = [int(np.prod(s)) * p.dtype.itemsize for s in self.shapes]
        self.shm = [[shared_memory.SharedMemory(create=True, size=n) for n in sizes]
                    for _ in range(depth)]
        self.views = [[np.ndarray(s, p.dtype, buffer=m.buf) for s, m in zip(self.shapes, slot)]
                      for slot in self.shm]
        ctx = mp.get_context("fork")
        self.free, self.full = ctx.Queue(), ctx.Queue()
        for i in range(depth):
            self.free.put(i)
        self.proc = ctx.Process(target=self._run, args=(p, layer.rng, layer.cursor), daemon=True)
        self.proc.start()

    def _run(self, producer, rng, cursor):
        while True:
            i = self.free.get()
            if i is None:
                return
            cursor = producer.produce(rng, cursor, self.views[i])
            self.full.put(i)

    def forward(self, top):
        i = self.full.get()
        for t, a in zip(top, self.views[i]):
            np.copyto(t.data, a)
        self.free.put(i)

    def close(self):
        self.free.put(None)
        self.proc.join(5)
        for slot in self.shm:
            for m in slot:
                m.close()
                m.unlink()


def build(config, mode):
    cfg = yaml.safe_load(open(config))
    net_cfg = cfg.get("net", cfg)
    for layer in net_cfg["layers"]:
        if layer["type"] == "MNISTData":
            layer["transform"] = AUGMENT
            layer["prefetch"] = 0 if mode in ("sync", "process") else 3
    net = Net(net_cfg, "train", seed=1)
    data = net.layers[0]
    spent = [0.0]
    proc = ProcessPrefetcher(data) if mode == "process" else None
    original = data.forward

    def timed(bottom, top):
        t0 = time.perf_counter()
        if proc is None:
            original(bottom, top)
        else:
            proc.forward(top)
        spent[0] += time.perf_counter() - t0
    data.forward = timed
    return net, spent, proc


def measure(net, spent, iters):
    spent[0] = 0.0
    t0 = time.perf_counter()
    for _ in range(iters):
        net.forward_backward()
    total = time.perf_counter() - t0
    return spent[0] / iters * 1e3, total / iters * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/lenet.yaml")
    ap.add_argument("--iters", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    modes = ("sync", "thread", "process")
    nets = {m: build(args.config, m) for m in modes}
    for m in modes:                                   # warm up: compile, fill the queues
        measure(*nets[m][:2], 5)
    results = {m: [] for m in modes}
    for _ in range(args.rounds):
        for m in modes:
            results[m].append(measure(*nets[m][:2], args.iters))
    print(f"{args.config}, batch {nets['sync'][0].layers[0].p.batch_size}, transform {AUGMENT}")
    print(f"{'mode':8s} {'data ms':>8s} {'iter ms':>8s} {'share':>7s}   (median of "
          f"{args.rounds} rounds x {args.iters} iterations)")
    for m in modes:
        data = statistics.median(r[0] for r in results[m])
        total = statistics.median(r[1] for r in results[m])
        share = statistics.median(r[0] / r[1] for r in results[m])
        print(f"{m:8s} {data:8.3f} {total:8.2f} {100 * share:6.2f}%")
    for m in modes:
        if nets[m][2] is not None:
            nets[m][2].close()
        nets[m][0].layers[0].close()


if __name__ == "__main__":
    main()
