"""`layerflow layers [TYPE]`: the registered layer types and their parameters, read from
each layer's `Params` dataclass (types, defaults and bounds), so the catalogue is never out
of date.

    layerflow layers               # every type, with its arity and first docstring line
    layerflow layers Convolution   # one type: its docstring and a table of its params
"""
import dataclasses
import typing

from .config.errors import did_you_mean
from .config.schema import type_name
from .registry import get_layer_class, layer_types


def _arity(rule):
    if isinstance(rule, int):
        return str(rule)
    lo, hi = rule
    return f"{lo}+" if hi is None else f"{lo}-{hi}"


def _default(f):
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "(required)"
    if dataclasses.is_dataclass(value):
        fields = dataclasses.fields(value)
        shown = {x.name: getattr(value, x.name) for x in fields
                 if getattr(value, x.name) != (x.default if x.default is not
                                               dataclasses.MISSING else object())}
        return "{" + ", ".join(f"{k}: {v}" for k, v in shown.items()) + "}"
    return repr(value) if isinstance(value, str) else str(value)


def params_table(cls):
    """[(name, type, default, bounds)] of a layer class's Params."""
    hints = typing.get_type_hints(cls.Params)
    rows = []
    for f in dataclasses.fields(cls.Params):
        lo, hi = f.metadata.get("min"), f.metadata.get("max")
        bounds = ""
        if lo is not None or hi is not None:
            bounds = f"[{'' if lo is None else lo}, {'' if hi is None else hi}]"
        rows.append((f.name, type_name(hints[f.name]), _default(f), bounds))
    return rows


def summary(cls):
    doc = (cls.__doc__ or "").strip() or (getattr(__import__(cls.__module__, fromlist=["x"]),
                                                  "__doc__", "") or "").strip()
    return doc.splitlines()[0] if doc else ""


def catalogue():
    """Text listing every registered type."""
    names = layer_types()
    w = max(len(n) for n in names)
    lines = [f"{'type':<{w}}  bottoms  tops  in-place  description"]
    for name in names:
        cls = get_layer_class(name)
        lines.append(f"{name:<{w}}  {_arity(cls.num_bottom):>7}  {_arity(cls.num_top):>4}  "
                     f"{'yes' if cls.in_place else '':>8}  {summary(cls)}")
    lines.append(f"\n{len(names)} types; `layerflow layers TYPE` shows one type's params.")
    return "\n".join(lines)


def describe(type_name_):
    """Text for one type: docstring, arity and the params table (KeyError when unknown)."""
    try:
        cls = get_layer_class(type_name_)
    except KeyError:
        raise ValueError(f"unknown layer type '{type_name_}'"
                         + did_you_mean(type_name_, layer_types())) from None
    module = __import__(cls.__module__, fromlist=["x"])
    doc = (cls.__doc__ or module.__doc__ or "").strip()
    lines = [f"{type_name_}  ({cls.__module__}.{cls.__qualname__})", ""]
    if doc:
        lines += [doc, ""]
    lines.append(f"bottoms {_arity(cls.num_bottom)}, tops {_arity(cls.num_top)}"
                 f"{', may run in place' if cls.in_place else ''}"
                 f"{', a loss (top 0 has loss_weight 1)' if cls.is_loss else ''}")
    rows = params_table(cls)
    if not rows:
        lines.append("No parameters.")
        return "\n".join(lines)
    head = ("param", "type", "default", "bounds")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(4)]
    lines.append("")
    lines.append("  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
    for r in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    return "\n".join(lines)
