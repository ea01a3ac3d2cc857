"""Check a YAML mapping against a dataclass and build it: the one validator for layer
params, fillers, solver settings and every other typed block of a config.

Supported field types: bool, int, float, str, dict, list[T], tuple[T, ...], Optional[T],
unions (`int | list[int]`), Literal[...] (enums, matched case-sensitively as in Caffe) and
nested dataclasses. `field(metadata={"min": a, "max": b})` bounds a number; a
`__post_init__` that raises ValueError reports at the mapping's position.

Numbers are checked before any layer sees them: an int is a whole number in the 32-bit range
of Caffe's prototxt fields (`num_output: 1e308` or `stride: 2**63` is refused here, not met as
an OverflowError deep in a kernel), a float fits a double, and a list of ints (a shape, a
kernel size) may not multiply past 2**62, so that no size computed from it overflows int64.
"""
import dataclasses
import math
import types
import typing

from .errors import ConfigError, did_you_mean, shown
from .yaml_loader import MarkedDict, MarkedList


INT_MIN, INT_MAX = -2**31, 2**31 - 1     # Caffe's int32 fields
MAX_PRODUCT = 2**62                      # of a list of ints: no int64 overflow downstream
MAX_LIST = 4096                          # numbers in one list (a shape has a handful)


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
                          f"got {shown(value)}" + did_you_mean(value, choices))
    if origin in (list, tuple):
        return _coerce_list(value, tp, where, name)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise where.error(f"'{name}' must be a mapping, got {shown(value)}")
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
    raise where.error(f"'{name}' must be {type_name(tp)}, got {shown(value)}")


def _same_kind(value, tp):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return tp in (int, float)      # e.g. an int out of range for `int | list[int]`
    if isinstance(value, dict):
        return dataclasses.is_dataclass(tp) or tp is dict
    if isinstance(value, list):
        if typing.get_origin(tp) not in (list, tuple):
            return False
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        # `list[int] | list[list[int]]`: the alternative whose items match the first item
        return not value or not args or args[0] is typing.Any or _same_kind(value[0], args[0]) \
            or not isinstance(value[0], (list, dict, int, float))


def _coerce_list(value, tp, where, name):
    args = [a for a in typing.get_args(tp) if a is not Ellipsis]
    item_tp = args[0] if args else typing.Any
    if not isinstance(value, list):
        raise where.error(f"'{name}' must be a list, got {shown(value)}")
    if len(value) > MAX_LIST and item_tp in (int, float):
        raise where.error(f"'{name}' has {len(value)} numbers; a config list holds at most "
                          f"{MAX_LIST}")
    items = [coerce(v, item_tp, where.at(value, i), f"{name}[{i}]") for i, v in enumerate(value)]
    if item_tp is int and items:
        product = math.prod(abs(v) for v in items)
        if product > MAX_PRODUCT:
            raise where.error(f"'{name}' = {shown(items, 60)} multiplies to more than "
                              "2**62: no shape or size that large can exist")
    return tuple(items) if typing.get_origin(tp) is tuple else items


def _coerce_scalar(value, tp, where, name):
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            if not INT_MIN <= value <= INT_MAX:
                raise where.error(f"'{name}' = {shown(value, 30)} is out of range: integers in "
                                  f"a config lie in {INT_MIN}..{INT_MAX}")
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:
                raise where.error(f"'{name}' = {shown(value, 30)} is out of the range of a "
                                  "float") from None
    elif tp is str:
        if isinstance(value, str):
            return value
    elif tp is dict:
        if isinstance(value, dict):
            return dict(value)
    elif isinstance(value, tp):
        return value
    raise where.error(f"'{name}' must be {type_name(tp)}, got {shown(value)}")


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
            raise key_where.error(f"unknown key {shown(key)}" + did_you_mean(key, valid))
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
