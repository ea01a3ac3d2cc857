"""Caffe's LeNet recipe (configs/lenet.yaml) in PyTorch CPU, for the comparison in
models/lenet/README.md: same net, Xavier (Caffe's: U(+-sqrt(3/fan_in))) weights, zero
biases with lr_mult 2, data scaled by 1/256, SGD lr 0.01 momentum 0.9 weight decay 5e-4,
`inv` policy (gamma 1e-4, power 0.75), batch 64 shuffled per epoch, 10,000 iterations,
tested every 500 on the 10,000 test images.

    LAYERFLOW_DATA=/path/to/data /usr/bin/time -v python tools/lenet_torch.py [--threads 2]
"""
import argparse
import time

import numpy as np
import torch

from layerflow.data.mnist import load_mnist


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-iter", type=int, default=10000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    t0 = time.perf_counter()
    xtr, ytr = load_mnist("train")
    xte, yte = load_mnist("test")
    xtr = torch.tensor(np.asarray(xtr, np.float32).reshape(-1, 1, 28, 28) / 256.0)
    xte = torch.tensor(np.asarray(xte, np.float32).reshape(-1, 1, 28, 28) / 256.0)
    ytr, yte = torch.tensor(np.asarray(ytr, np.int64)), torch.tensor(np.asarray(yte, np.int64))
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2, 2), nn.Conv2d(20, 50, 5),
                        nn.MaxPool2d(2, 2), nn.Flatten(), nn.Linear(800, 500), nn.ReLU(),
                        nn.Linear(500, 10))
    weights, biases = [], []
    for m in net:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            a = (3.0 / fan_in) ** 0.5
            nn.init.uniform_(m.weight, -a, a)
            nn.init.zeros_(m.bias)
            weights.append(m.weight)
            biases.append(m.bias)
    opt = torch.optim.SGD([{"params": weights, "lr": 0.01},
                           {"params": biases, "lr": 0.02}], lr=0.01, momentum=0.9,
                          weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda it: (1 + 1e-4 * it) ** -0.75)
    rng = np.random.default_rng(1)
    order, cursor = rng.permutation(len(xtr)), 0

    def test():
        net.eval()
        with torch.no_grad():
            correct = sum(int((net(xte[i:i + 100]).argmax(1) == yte[i:i + 100]).sum())
                          for i in range(0, 10000, 100))
        net.train()
        return correct / 10000

    acc = None
    for it in range(args.max_iter):
        if it % 500 == 0 and it > 0:
            acc = test()
            print(f"iteration {it}: test accuracy {acc:.4f}", flush=True)
        if cursor + 64 > len(order):
            order, cursor = rng.permutation(len(xtr)), 0
        idx = torch.from_numpy(order[cursor:cursor + 64])
        cursor += 64
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(xtr[idx]), ytr[idx])
        loss.backward()
        opt.step()
        sched.step()
    acc = test()
    print(f"iteration {args.max_iter}: test accuracy {acc:.4f}")
    print(f"Total time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
