"""A seeded fuzzer over the shipped configs (issue 16): each case mutates one of configs/*.yaml
or models/*/*.yaml (its parsed structure, or its text) and builds the net. Every outcome must
be a built net or one ConfigError line that names the file, within a few seconds: never a
traceback (another exception type), a hang, or a message that echoes a huge value.

A few hundred cases build their net by default; `pytest --long` (or LAYERFLOW_FUZZ_LONG=1)
runs thousands, each built net also run forward and backward once.
LAYERFLOW_FUZZ_SEED picks another seed; a failing case prints its seed and keeps its file.

Hostile numbers are those the value parser must refuse (2**31, 2**63, 1e308, 1.5, NaN ...) and
small ones (-1 .. 7), and mid-sized numbers that pass the parser but ask for terabytes
(`num_output: 1e9`, `pad: 100000`: HOSTILE_ALLOC), which the blob allocator refuses from
the shape before allocating (blob.py).
"""
import copy
import os
import random
import signal
from pathlib import Path

import numpy as np
import pytest
import yaml

from layerflow import ConfigError, Net
from layerflow.registry import layer_types
from layerflow.solvers import Solver

ROOT = Path(__file__).resolve().parents[1]
SEEDS = sorted(ROOT.glob("configs/*.yaml")) + sorted(ROOT.glob("models/*/*.yaml"))
CASE_SECONDS = 30            # a hang guard, generous for a loaded machine; cases take ~0.1 s

HOSTILE = [-1, 0, 1, 2, 3, 7, 2**31, -2**31 - 1, 2**63, 2**64 + 1, 10**30, 1e308, -1e308, 1.5,
           float("nan"), float("inf"), -float("inf"), True, False, None, "", "x", "x" * 5000,
           ":", "a:", ":b", "os:system", "..x:Y", "a\x00b", "\x1b[2J", "é", [], [[]], [1, 2],
           [0, 0, 0], [1e308], [2**40, 2**40, 2**40], [[2**31 - 1, 2**31 - 1, 2**31 - 1]], {},
           {"a": 1}, {"type": "xavier"}, {"phase": "TRAIN"}, [{"lr_mult": "x"}]]
# Sizes that pass the value parser but cannot be allocated (pad 100000, num_output 1e9): the
# blob allocator refuses them from the shape, before allocating (blob.py).
HOSTILE_ALLOC = [100_000, 1_000_000_000, 2**31 - 1, [100_000, 100_000], [[10**6, 10**6]]]
HOSTILE = HOSTILE + HOSTILE_ALLOC
TEXT_JUNK = ["\x00", "\x07", "\t", "\r", "\ufeff", "&a ", "*a ", "!!python/object:os.system ",
             "{", "}", "[", "]", ":", "- ", "? ", "'", '"', "%YAML 1.1\n", "---\n", "...\n",
             "<<: *a\n", "\\", "#", "|\n", ">\n", "@", "`", "!!binary ", "!!set ", "0x", "1e999"]


def _long(config):
    return config.getoption("--long", default=False) or os.environ.get("LAYERFLOW_FUZZ_LONG")


def _dummy_data(tree):
    """The same net with its dataset layers replaced by DummyData of the dataset's shape, so
    that the layers after them are fuzzed without the files."""
    tree = copy.deepcopy(tree)
    layers = tree["net"]["layers"] if "net" in tree and isinstance(tree["net"], dict) \
        else tree.get("layers", [])
    for i, layer in enumerate(layers):
        if layer.get("type") in ("MNISTData", "CIFAR10Data"):
            chw = [1, 28, 28] if layer["type"] == "MNISTData" else [3, 32, 32]
            b = layer.get("batch_size", 8)
            layers[i] = {"name": layer["name"], "type": "DummyData", "top": layer["top"],
                         "shape": [[b] + chw, [b]],
                         "data_filler": [{"type": "gaussian"},
                                         {"type": "uniform", "min": 0, "max": 9.9}]}
            if "include" in layer:
                layers[i]["include"] = layer["include"]
    return tree


def _walk(node, path=()):
    """Every (container, key) in a parsed config."""
    items = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, list) else ()
    for k, v in list(items):
        yield node, k
        yield from _walk(v, path + (k,))


def _layers(tree):
    if isinstance(tree.get("net"), dict):
        return tree["net"].get("layers")
    return tree.get("layers")


def mutate_tree(rng, tree):
    tree = copy.deepcopy(tree)
    for _ in range(rng.randint(1, 3)):
        spots = list(_walk(tree))
        layers = _layers(tree)
        op = rng.random()
        if op < 0.45 and spots:
            node, key = rng.choice(spots)
            node[key] = copy.deepcopy(rng.choice(HOSTILE))
        elif op < 0.55 and spots:
            node, key = rng.choice(spots)
            del node[key]
        elif op < 0.65 and spots:
            node, key = rng.choice(spots)
            if isinstance(node, dict):
                node[rng.choice(["bogus", "lr", "nmu_output", "Type", "plugins", 7, "top"])] = \
                    copy.deepcopy(rng.choice(HOSTILE))
        elif op < 0.75 and isinstance(layers, list) and layers:
            layer = rng.choice(layers)
            if isinstance(layer, dict):
                layer["type"] = rng.choice(layer_types())
        elif op < 0.85 and isinstance(layers, list) and len(layers) > 1:
            i, j = rng.randrange(len(layers)), rng.randrange(len(layers))
            choice = rng.random()
            if choice < 0.4:
                layers[i], layers[j] = layers[j], layers[i]
            elif choice < 0.7:
                layers.insert(j, copy.deepcopy(layers[i]))
            else:
                del layers[i]
        elif isinstance(layers, list) and layers:
            names = [t for l in layers if isinstance(l, dict) for t in
                     (l.get("top") if isinstance(l.get("top"), list) else [l.get("top")])
                     if isinstance(t, str)]
            layer = rng.choice(layers)
            if isinstance(layer, dict) and names:
                layer[rng.choice(["bottom", "top"])] = rng.choice(
                    [rng.choice(names), [rng.choice(names), rng.choice(names)], "nowhere"])
    return tree


def mutate_text(rng, text):
    for _ in range(rng.randint(1, 3)):
        pos = rng.randrange(len(text) + 1)
        op = rng.random()
        if op < 0.3:
            text = text[:pos] + rng.choice(TEXT_JUNK) + text[pos:]
        elif op < 0.5:
            text = text[:pos] + text[pos + rng.randint(1, 40):]
        elif op < 0.6:
            text = text[:pos]
        elif op < 0.8:
            lines = text.splitlines(True)
            if lines:
                k = rng.randrange(len(lines))
                lines.insert(rng.randrange(len(lines)), lines[k])
                text = "".join(lines)
        else:
            depth = rng.choice([10, 70, 1000])
            text = text[:pos] + "[" * depth + "]" * depth + text[pos:]
    return text


OUTCOMES = {}


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def run_case(seed, tmp_path, trees, texts, run=False):
    """Build one mutated config (and with `run`, run it forward and backward once); returns
    None when the outcome is allowed, else a reason."""
    rng = random.Random(seed)
    source = rng.choice(SEEDS)
    path = tmp_path / f"case_{seed}.yaml"
    if rng.random() < 0.7:
        tree = trees[source] if rng.random() < 0.5 else _dummy_data(trees[source])
        if isinstance(tree.get("net"), str):                # a solver naming its net file
            tree = dict(tree, net=str(source.parent / tree["net"]))
        text = yaml.safe_dump(mutate_tree(rng, tree), allow_unicode=rng.random() < 0.5)
    else:
        text = mutate_text(rng, texts[source])
        for sibling in source.parent.glob("*.yaml"):       # a net file the solver names
            if not (tmp_path / sibling.name).exists():
                (tmp_path / sibling.name).write_text(texts.get(sibling, sibling.read_text()))
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    phase = rng.choice(["train", "test"])
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_SECONDS)
    try:
        if "solver:" in text and rng.random() < 0.3:
            solver = Solver(str(path), quiet=True)
            net = solver.test_net or solver.net
            solver.net.close() if hasattr(solver.net, "close") else None
        else:
            net = Net(str(path), phase, seed=1)
        if run:
            try:
                net.forward()
                if net.phase == "TRAIN":
                    net.backward()
            except ValueError as exc:   # bad data met while running: one line naming the layer
                msg = str(exc)
                if "\n" in msg or len(msg) > 2100 or "layer '" not in msg:
                    return f"{type(exc).__name__} while running, not one line naming the " \
                           f"layer: {msg[:200]!r}"
        for layer in net.layers:
            close = getattr(layer, "close", None)
            if close:
                close()
        OUTCOMES["built"] = OUTCOMES.get("built", 0) + 1
        return None
    except ConfigError as exc:
        msg = str(exc)
        OUTCOMES[msg.split(": ", 1)[-1][:40]] = OUTCOMES.get(msg.split(": ", 1)[-1][:40], 0) + 1
        if "\n" in msg or len(msg) > 2100:
            return f"ConfigError not one short line ({len(msg)} chars): {msg[:200]!r}"
        if not msg.startswith((str(path), str(ROOT), str(tmp_path))):   # or the net file it names
            return f"ConfigError does not name the file: {msg[:200]!r}"
        return None
    except _Timeout:
        return f"took more than {CASE_SECONDS} s"
    except RecursionError:
        return "RecursionError"
    except Exception as exc:  # anything else reaches the user as a traceback
        return f"{type(exc).__name__}: {str(exc)[:300]}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def sources():
    texts = {p: p.read_text(encoding="utf-8") for p in SEEDS}
    return {p: yaml.safe_load(t) for p, t in texts.items()}, texts


def test_fuzz_shipped_configs(request, tmp_path, sources, mnist_data):
    assert SEEDS, "no shipped configs found"
    long = bool(_long(request.config))
    count = 3000 if long else 300
    base = int(os.environ.get("LAYERFLOW_FUZZ_SEED", "16"))
    failures = []
    np.seterr(all="ignore")
    for case in range(count):
        seed = base * 1_000_003 + case
        reason = run_case(seed, tmp_path, *sources, run=long)
        if reason is not None:
            failures.append(f"seed {seed} ({tmp_path}/case_{seed}.yaml): {reason}")
        else:
            (tmp_path / f"case_{seed}.yaml").unlink()
    assert not failures, f"{len(failures)} of {count} cases failed:\n" + "\n".join(failures[:20])


def test_fuzzer_can_fail(tmp_path, sources, monkeypatch):
    """The oracle flags an exception that is not a ConfigError."""
    def boom(*args, **kwargs):
        raise IndexError("list index out of range")
    monkeypatch.setattr("tests.test_fuzz_configs.Net", boom)
    assert run_case(1, tmp_path, *sources).startswith("IndexError")
