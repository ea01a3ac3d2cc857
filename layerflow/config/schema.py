"""Check a YAML mapping against a dataclass and build it: the one validator for layer
params, fillers, solver settings and every other typed block of a config.

Supported field types: bool, int, float, str, dict, list[T], tuple[T, ...], Optional[T],
unions (`int | list[int]`), Literal[...] (enums, matched case-sensitively as in Caffe) and
nested dataclasses. `field(metadata={"min": a, "max": b})` bounds a number; a
`__post_init__` that raises ValueError reports at the mapping's position.
"""
import dataclasses
import types
import typing

from .errors import ConfigError, did_you_mean
from .yaml_loader import MarkedDict, MarkedList


class Where:
    """Where a value sits: file, (line, col) and the layer it belongs to."""

    def __init__(self, file=None, mark=(None, None), layer=None):
        self.file, self.mark, self.layer = file, mark, layer

    def at(self, container, key):
        """The position of `container[key]` (a key of a mapping or an index of a list)."""
        if isinstance(container, (MarkedDict, MarkedList)):
            mark = container.mark_of(key)
            if mark[0] is not None:
                return Where(container.file or self.file, mark, self.layer)
        return self

    def error(self, message):
        return ConfigError(message, self.file, self.mark[0], self.mark[1], self.layer)


def type_name(tp):
    """A short human name for a type annotation."""
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in typing.get_args(tp) if a is not type(None))
    if origin in (list, tuple):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return f"list of {type_name(args[0])}" if args else "list"
    if dataclasses.is_dataclass(tp):
        return "mapping"
    return getattr(tp, "__name__", str(tp))


def coerce(value, tp, where, name):
    """Return `value` converted to annotation `tp`, or raise ConfigError at `where`."""
    if tp is typing.Any:
        return value
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return _coerce_union(value, tp, where, name)
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        if value in choices:
            return value
        raise where.error(f"'{name}' must be one of {', '.join(map(str, choices))}, "
                          f"got {value!r}" + did_you_mean(value, choices))
    if origin in (list, tuple):
        return _coerce_list(value, tp, where, name)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise where.error(f"'{name}' must be a mapping, got {value!r}")
        return from_mapping(tp, value, where)
    return _coerce_scalar(value, tp, where, name)


def _coerce_union(value, tp, where, name):
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if value is None and len(args) < len(typing.get_args(tp)):
        return None
    errors = []
    for arg in args:
        try:
            return coerce(value, arg, where, name)
        except ConfigError as exc:
            errors.append((arg, exc))
    # Where one alternative has the value's own shape (a mapping for a dataclass, a list for
    # a list type), its error says what is wrong inside; report that one.
    same_kind = [exc for arg, exc in errors if _same_kind(value, arg)]
    if len(same_kind) == 1:
        raise same_kind[0]
    raise where.error(f"'{name}' must be {type_name(tp)}, got {value!r}")


def _same_kind(value, tp):
    if isinstance(value, dict):
        return dataclasses.is_dataclass(tp) or tp is dict
    if isinstance(value, list):
        return typing.get_origin(tp) in (list, tuple)
    return False


def _coerce_list(value, tp, where, name):
    args = [a for a in typing.get_args(tp) if a is not Ellipsis]
    item_tp = args[0] if args else typing.Any
    if not isinstance(value, list):
        raise where.error(f"'{name}' must be a list, got {value!r}")
    items = [coerce(v, item_tp, where.at(value, i), f"{name}[{i}]") for i, v in enumerate(value)]
    return tuple(items) if typing.get_origin(tp) is tuple else items


def _coerce_scalar(value, tp, where, name):
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif tp is dict:
        if isinstance(value, dict):
            return dict(value)
    elif isinstance(value, tp):
        return value
    raise where.error(f"'{name}' must be {type_name(tp)}, got {value!r}")


def from_mapping(cls, mapping, where, ignore=()):
    """Build dataclass `cls` from `mapping`, checking keys, types and bounds.

    Keys in `ignore` belong to someone else (the common layer keys) and are skipped."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in mapping.items():
        if key in ignore:
            continue
        key_where = where.at(mapping, key)
        if key not in fields:
            valid = list(fields) + list(ignore)
            raise key_where.error(f"unknown key '{key}'" + did_you_mean(key, valid))
        kwargs[key] = coerce(value, hints[key], key_where, key)
        _check_bounds(fields[key], kwargs[key], key_where)
    missing = [n for n, f in fields.items() if n not in kwargs and
               f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise where.at(mapping, None).error(f"missing required key '{missing[0]}'")
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise where.at(mapping, None).error(str(exc)) from None


def _check_bounds(field, value, where):
    lo, hi = field.metadata.get("min"), field.metadata.get("max")
    values = value if isinstance(value, (list, tuple)) else [value]
    for v in values:
        if not isinstance(v, (int, float)):
            continue
        if lo is not None and v < lo:
            raise where.error(f"'{field.name}' must be >= {lo}, got {v}")
        if hi is not None and v > hi:
            raise where.error(f"'{field.name}' must be <= {hi}, got {v}")


def bounded(default, lo=None, hi=None):
    """A dataclass field with a default and numeric bounds checked at load time."""
    meta = {"min": lo, "max": hi}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)
