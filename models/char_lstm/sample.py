"""Generate text with the trained char_lstm: one character at a time, fed back in.

    python models/char_lstm/sample.py [--weights W] [--length 600] [--temperature 0.6]
                                      [--prime "Shall I"] [--seed 1]

Builds a one-step deploy net (Input x and cont of shape (1, 1), the same Embed, LSTM and
InnerProduct layers as char_lstm.yaml, then Softmax), loads the weights (default: the newest
snapshots/char_lstm/char_lstm_iter_*.weights.npz under the current folder) and steps it: the
LSTM carries its state from one forward to the next while cont is 1 (Caffe's recurrent
layers do the same), so each forward is one step of one long sequence.
"""
import argparse
import re
from pathlib import Path

import numpy as np
import yaml

from layerflow import Net

HERE = Path(__file__).resolve().parent


def newest(prefix="snapshots/char_lstm/char_lstm"):
    p = Path(prefix)
    found = [(int(m.group(1)), f) for f in p.parent.glob(p.name + "_iter_*.weights.npz")
             if (m := re.search(r"_iter_(\d+)\.weights\.npz$", f.name))]
    if not found:
        raise SystemExit(f"no {prefix}_iter_*.weights.npz here: train first, or give --weights")
    return max(found)[1]


def deploy_config():
    """char_lstm.yaml's embed / lstm / logits layers behind (1, 1) inputs, with a Softmax."""
    train = yaml.safe_load((HERE / "char_lstm.yaml").read_text(encoding="utf-8"))
    keep = {"embed": None, "lstm": None, "logits": None}
    for layer in train["net"]["layers"]:
        if layer["name"] in keep:
            keep[layer["name"]] = layer
    layers = [{"name": "input", "type": "Input", "top": ["x", "cont"], "shape": [[1, 1], [1, 1]]}]
    layers += list(keep.values())
    layers.append({"name": "prob", "type": "Softmax", "bottom": "logits", "top": "prob",
                   "axis": 2})
    return {"name": "char_lstm_deploy", "layers": layers}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", help="a .weights.npz (default: the newest snapshot)")
    ap.add_argument("--length", type=int, default=600)
    ap.add_argument("--temperature", type=float, default=0.6)
    ap.add_argument("--prime", default="Shall I ")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    text = (HERE / "sonnets.txt").read_text(encoding="utf-8")
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    unknown = sorted(set(args.prime) - set(chars))
    if unknown:
        raise SystemExit(f"--prime has characters not in sonnets.txt: {unknown}")
    net = Net(deploy_config(), phase="test", weights=str(args.weights or newest()))
    x, cont, prob = net.blobs["x"].data, net.blobs["cont"].data, net.blobs["prob"].data
    rng = np.random.default_rng(args.seed)
    out = list(args.prime)
    cont[...] = 0                       # the first step starts a sequence
    for c in args.prime:                # feed the prime, keeping the state
        x[...] = index[c]
        net.forward()
        cont[...] = 1
    for _ in range(args.length):
        p = np.log(np.maximum(prob.reshape(-1).astype(np.float64), 1e-12)) / args.temperature
        p = np.exp(p - p.max())
        c = int(rng.choice(len(chars), p=p / p.sum()))
        out.append(chars[c])
        x[...] = c
        net.forward()
    print("".join(out))


if __name__ == "__main__":
    main()
