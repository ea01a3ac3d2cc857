"""Make the training windows of models/char_lstm from sonnets.txt (shipped beside this file).

    python models/char_lstm/prepare.py            # -> snapshots/char_lstm/sonnets.npz

Writes x, y, cont (each (M, T) float32, one window of T characters per row): x the character
ids of a window, y the same shifted by one (the next character to predict), cont Caffe's
continuation flags (0 at the first step of a window, 1 after). Windows start every STRIDE
characters. The vocabulary is the sorted set of the file's characters (vocab() below);
sample.py rebuilds it the same way.
"""
import argparse
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TEXT = HERE / "sonnets.txt"
T = 50          # steps per window: must match the config's reshape and the solver's batches
STRIDE = 5


def vocab(text):
    return sorted(set(text))


def windows(text, t=T, stride=STRIDE):
    chars = vocab(text)
    index = {c: i for i, c in enumerate(chars)}
    ids = np.array([index[c] for c in text], np.float32)
    starts = np.arange(0, len(ids) - t - 1, stride)
    x = np.stack([ids[s:s + t] for s in starts])
    y = np.stack([ids[s + 1:s + t + 1] for s in starts])
    cont = np.ones_like(x)
    cont[:, 0] = 0
    return x, y, cont


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", default="snapshots/char_lstm/sonnets.npz")
    args = ap.parse_args()
    text = TEXT.read_text(encoding="utf-8")
    x, y, cont = windows(text)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, x=x, y=y, cont=cont)
    print(f"{out}: {len(x)} windows of {T} characters, vocabulary {len(vocab(text))}")


if __name__ == "__main__":
    main()
