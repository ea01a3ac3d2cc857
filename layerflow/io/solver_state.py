"""Read a solver state file for `--resume`, validating every field against the solver and its
nets before any of it is used.

A state file is data from disk, perhaps from elsewhere, perhaps corrupt: `load_solver_state`
checks, in order and without touching the solver,
  - the file (regular, a real zip, no pickle, each array's header against its declared size,
    the total against a budget from the net's size) and its identity (format, version, solver
    type, the net's signature);
  - `iter` (an integer in 0..max_iter) and the smoothed-loss window (finite floats);
  - weights and history: present, of the net's shapes (checked from the .npy headers before
    decompressing), floating point, finite;
  - NumPy's global generator and every layer's generator: JSON of bounded size and nesting,
    accepted by a scratch generator of the same kind;
  - each layer's extra state against what the layer itself reports (`layer.state()`): the same
    fields and kinds; for data layers the cursor: epoch >= 0, `order` an integer vector of the
    epoch's length holding distinct record indices in range (a permutation without sharding),
    the position inside it, rank < world_size;
and returns the arrays for `Solver._load_state`, or raises one WeightsFileError naming the
file and the field.
"""
import json
from pathlib import Path

import numpy as np

from .weights import WeightsFileError, load_npz

MAX_JSON = 1 << 16           # characters of one JSON field (an MT19937 state is ~7,000)
MAX_JSON_DEPTH = 8           # nesting of one JSON field (a generator state has 3)
MAX_LOSSES = 1 << 20
IDENTITY = ("format", "version", "solver_type", "signature")


class _Bad(Exception):
    """A field that does not fit; the message is completed with the file's name."""


def load_solver_state(path, solver):
    """The arrays of state file `path`, every field validated against `solver` (see above)."""
    path = Path(path)
    head = load_npz(path, only=IDENTITY + ("iter",), max_bytes=1 << 24)
    _check_identity(path, head, solver)
    expected = {}
    for p, hist in zip(solver.params, solver.history):
        expected[f"weights/{p.key}"] = p.blob.shape
        for j in range(len(hist)):
            expected[f"history/{p.key}/{j}"] = p.blob.shape
    arrays = load_npz(path, expected, max_bytes=_budget(solver))
    try:
        _check_fields(arrays, solver)
    except _Bad as exc:
        raise WeightsFileError(f"{path}: {exc}") from None
    return arrays


def _check_identity(path, head, solver):
    from ..solvers.base import STATE_FORMAT, STATE_VERSION
    if "solver_type" not in head or "iter" not in head or "signature" not in head:
        raise WeightsFileError(f"{path}: not a layerflow solver state file (no solver_type, "
                               "iter and signature arrays)")
    try:
        fmt = _text(head, "format", STATE_FORMAT)
        version = _integer(head, "version", 0, STATE_VERSION, STATE_VERSION)
        kind, signature = _text(head, "solver_type"), _text(head, "signature")
    except _Bad as exc:
        raise WeightsFileError(f"{path}: {exc}") from None
    if fmt != STATE_FORMAT or version > STATE_VERSION:
        raise WeightsFileError(f"{path}: a solver state of an unknown format or newer version")
    if kind != solver.type_name:
        raise WeightsFileError(f"{path}: written by the {kind[:40]} solver; this config uses "
                               f"{solver.type_name} (its history would not apply)")
    ours = solver._signature()
    if signature != ours:
        diff = sorted(set(signature.split(";")) ^ set(ours.split(";")))
        raise WeightsFileError(f"{path}: written for a different net (params that differ, as "
                               f"name:shape: {', '.join(d[:80] for d in diff[:6])})")


def _budget(solver):
    """Bytes a genuine state of this solver can hold: weights and history (float64 at most),
    the data cursors (int64 per record), generators and slack."""
    params = sum(p.blob.count for p in solver.params)
    records = sum(len(layer.source) for _, net in solver._nets() for layer in net.layers
                  if hasattr(layer, "source") and hasattr(layer.source, "__len__"))
    return 8 * params * (1 + solver.history_per_param) + 16 * records + (64 << 20)


def _check_fields(arrays, solver):
    if solver.p.max_iter > 0:
        _integer(arrays, "iter", 0, solver.p.max_iter, None,
                 hint=f"this run's max_iter is {solver.p.max_iter}")
    else:
        _integer(arrays, "iter", 0, 2**31 - 1, None)
    losses = arrays.get("smoothed_losses", np.zeros(0))
    if losses.ndim != 1 or losses.dtype.kind not in "fiu" or len(losses) > MAX_LOSSES or \
            not np.isfinite(losses.astype(np.float64)).all():
        raise _Bad("'smoothed_losses' must be a vector of finite losses")
    for p, hist in zip(solver.params, solver.history):
        for name in [f"weights/{p.key}"] + [f"history/{p.key}/{j}" for j in range(len(hist))]:
            if name not in arrays:
                raise _Bad(f"'{name}' is missing (an incomplete solver state)")
            a = arrays[name]
            if a.dtype.kind != "f":
                raise _Bad(f"'{name}' has dtype {a.dtype}, not floating point")
            if not np.isfinite(a).all():
                raise _Bad(f"'{name}' holds non-finite values")
    if "numpy_global/keys" in arrays or "numpy_global/rest" in arrays:
        _check_global_rng(arrays)
    for tag, net in solver._nets():
        for layer in net.layers:
            _check_layer(arrays, tag, layer)


def _check_global_rng(arrays):
    keys, rest = arrays.get("numpy_global/keys"), arrays.get("numpy_global/rest")
    if keys is None or rest is None or keys.shape != (624,) or keys.dtype.kind not in "iu" or \
            rest.shape != (3,) or rest.dtype.kind != "f" or not np.isfinite(rest).all():
        raise _Bad("NumPy's global generator state ('numpy_global/*') is malformed")
    pos, has_gauss, cached = rest
    if pos != int(pos) or not 0 <= pos <= 624 or has_gauss not in (0, 1):
        raise _Bad("NumPy's global generator state ('numpy_global/rest') is out of range")
    try:
        np.random.RandomState().set_state(("MT19937", keys.astype(np.uint32), int(pos),
                                           int(has_gauss), float(cached)))
    except (ValueError, TypeError, OverflowError) as exc:
        raise _Bad(f"NumPy's global generator state is not accepted ({exc})") from None


def _check_layer(arrays, tag, layer):
    rng_key = f"rng/{tag}/{layer.name}"
    if rng_key in arrays:
        state = _json(arrays, rng_key)
        scratch = type(layer.rng.bit_generator)()
        try:
            scratch.state = state
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            raise _Bad(f"'{rng_key}' is not a state of layer '{layer.name}''s "
                       f"{type(scratch).__name__} generator ({str(exc)[:120]})") from None
    saved = {}
    for base, is_json in ((f"layer/{tag}/{layer.name}/", False),
                          (f"layer_json/{tag}/{layer.name}/", True)):
        for k in arrays:
            if k.startswith(base):
                saved[k[len(base):]] = (k, _json(arrays, k) if is_json else arrays[k])
    if not saved:
        return
    if not hasattr(layer, "state"):
        raise _Bad(f"holds state for layer '{layer.name}', which keeps none")
    ours = {k: v for k, v in layer.state().items() if k != "rng"}
    unknown = sorted(set(saved) - set(ours))
    if unknown:
        raise _Bad(f"'{saved[unknown[0]][0]}' is not a field of layer '{layer.name}''s state")
    for k, (name, value) in saved.items():
        mine = ours[k]
        if isinstance(mine, (dict, str)) != isinstance(value, (dict, str)) or \
                (isinstance(mine, dict) and not isinstance(value, dict)):
            raise _Bad(f"'{name}' is not of the kind layer '{layer.name}' keeps there")
        if not isinstance(mine, (dict, str)):
            a, b = np.asarray(value), np.asarray(mine)
            if a.ndim != b.ndim or (a.dtype.kind in "iub") != (b.dtype.kind in "iub"):
                raise _Bad(f"'{name}' has {a.ndim} dimension(s) of {a.dtype}; layer "
                           f"'{layer.name}' keeps {b.ndim} of {b.dtype}")
    if "order" in saved:
        _check_cursor(saved, layer)


def _check_cursor(saved, layer):
    """A data layer's cursor: the epoch's record order and the position in it."""
    def value(k, default=None):
        return saved[k][1] if k in saved else default

    def scalar(k, lo, hi, default):
        v = value(k, default)
        if v is None:
            return None
        a = np.asarray(v)
        if a.shape != () or a.dtype.kind not in "iu" or not lo <= int(a) <= hi:
            raise _Bad(f"'{saved[k][0]}' must be an integer in {lo}..{hi}, got "
                       f"{np.array2string(a, threshold=4)[:60]}")
        return int(a)

    n = len(layer.source)
    world = scalar("world_size", 1, max(n, 1), 1)
    rank = scalar("rank", 0, world - 1, 0)
    scalar("epoch", 0, 2**62, 0)
    name = saved["order"][0]
    order = np.asarray(value("order"))
    length = n if world == 1 else n // world
    if order.ndim != 1 or order.dtype.kind not in "iu" or len(order) != length:
        raise _Bad(f"'{name}' must be a vector of {length} record indices (the epoch of "
                   f"layer '{layer.name}', rank {rank} of {world}), got {order.ndim} "
                   f"dimension(s) of {order.dtype}, length {order.size}")
    if length and (order.min() < 0 or order.max() >= n or
                   len(np.unique(order)) != length):
        raise _Bad(f"'{name}' is not a permutation of layer '{layer.name}''s {n} records "
                   "(an index out of range or repeated)")
    scalar("cursor", 0, max(length - 1, 0), 0)


# -- typed scalars and bounded JSON ----------------------------------------------------------
def _text(arrays, key, default=None):
    if key not in arrays:
        if default is None:
            raise _Bad(f"'{key}' is missing")
        return default
    a = arrays[key]
    if a.shape != () or a.dtype.kind not in "US":
        raise _Bad(f"'{key}' must be a string")
    text = str(a)
    if len(text) > 1 << 20:
        raise _Bad(f"'{key}' is {len(text):,} characters long")
    return text


def _integer(arrays, key, lo, hi, default, hint=None):
    if key not in arrays:
        if default is None:
            raise _Bad(f"'{key}' is missing")
        return default
    a = arrays[key]
    if a.shape != () or a.dtype.kind not in "iu":
        raise _Bad(f"'{key}' must be an integer, got {a.ndim} dimension(s) of {a.dtype}")
    v = int(a)
    if not lo <= v <= hi:
        raise _Bad(f"'{key}' = {v} is outside {lo}..{hi}" + (f" ({hint})" if hint else ""))
    return v


def _json(arrays, key):
    """A JSON field, its size and nesting bounded before it is parsed."""
    text = _text(arrays, key)
    if len(text) > MAX_JSON:
        raise _Bad(f"'{key}' is {len(text):,} characters of JSON; at most {MAX_JSON:,}")
    depth = deepest = 0
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    if deepest > MAX_JSON_DEPTH:
        raise _Bad(f"'{key}' nests JSON {deepest} levels deep; at most {MAX_JSON_DEPTH}")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _Bad(f"'{key}' is not valid JSON ({str(exc)[:100]})") from None
