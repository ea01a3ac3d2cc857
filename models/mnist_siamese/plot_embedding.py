"""The 2-D embedding of the MNIST test digits by a trained siamese net, as a scatter plot.

    python models/mnist_siamese/plot_embedding.py [--weights W] [-o PNG]

Builds the TEST net of mnist_siamese.yaml, loads the weights (default: the newest
snapshots/mnist_siamese_iter_*.weights.npz under the current folder), runs the first
branch over the 10,000 test digits and plots `feat` coloured by the digit, as Caffe's
examples/siamese/mnist_siamese.ipynb does. Also prints a number for the picture: the
nearest-centroid accuracy in the embedding (each digit's centroid from the first half of the
test digits, scored on the other half). Needs matplotlib and $LAYERFLOW_DATA.
"""
import argparse
import re
from pathlib import Path

import numpy as np

from layerflow import Net

HERE = Path(__file__).resolve().parent


def newest(prefix="snapshots/mnist_siamese"):
    p = Path(prefix)
    found = [(int(m.group(1)), f) for f in p.parent.glob(p.name + "_iter_*.weights.npz")
             if (m := re.search(r"_iter_(\d+)\.weights\.npz$", f.name))]
    if not found:
        raise SystemExit(f"no {prefix}_iter_*.weights.npz here: train first, or give --weights")
    return max(found)[1]


def embed(weights, batches=100):
    net = Net(str(HERE / "mnist_siamese.yaml"), phase="test", weights=str(weights), seed=1)
    feats, labels = [], []
    for _ in range(batches):
        net.forward()
        feats.append(net.blobs["feat"].data.copy())
        labels.append(net.blobs["label"].data.copy())
    return np.concatenate(feats), np.concatenate(labels).astype(int)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", help="a .weights.npz (default: the newest snapshot)")
    ap.add_argument("-o", "--output", default=str(HERE / "embedding.png"))
    args = ap.parse_args()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    feat, label = embed(args.weights or newest())
    half = len(label) // 2
    centroids = np.stack([feat[:half][label[:half] == d].mean(0) for d in range(10)])
    dist = ((feat[half:, None, :] - centroids[None]) ** 2).sum(-1)
    accuracy = float((dist.argmin(1) == label[half:]).mean())
    fig, ax = plt.subplots(figsize=(5, 5), dpi=80)
    for d in range(10):
        m = label == d
        ax.scatter(feat[m, 0], feat[m, 1], s=2, alpha=0.5, label=str(d),
                   color=plt.cm.tab10(d))
    ax.legend(markerscale=5, fontsize=7, loc="best")
    ax.set_title("MNIST test digits, siamese embedding (feat)")
    fig.tight_layout()
    fig.savefig(args.output)
    try:                                 # a 64-colour palette keeps the PNG small
        from PIL import Image
        Image.open(args.output).convert("RGB").quantize(64).save(args.output, optimize=True)
    except ImportError:
        pass
    print(f"{args.output}: {len(label)} digits; nearest-centroid accuracy in 2-D "
          f"{100 * accuracy:.2f}% (centroids from {half}, scored on {len(label) - half})")


if __name__ == "__main__":
    main()
