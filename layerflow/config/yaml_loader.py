"""YAML with safe semantics that remembers where every mapping, list and key came from.

`load_yaml(path)` returns plain dicts and lists (subclasses `MarkedDict`, `MarkedList`)
that carry `file`, `line`, `col` and, per key or item, the position of that key or item,
so that a validation error can name file:line:column.
"""
from pathlib import Path

import yaml

from .errors import ConfigError


class MarkedDict(dict):
    """A dict that knows its own position and the position of each key."""
    file = None
    line = None
    col = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.key_marks = {}

    def mark_of(self, key):
        """(line, col) of `key`, or of the mapping itself when the key is absent."""
        return self.key_marks.get(key, (self.line, self.col))


class MarkedList(list):
    """A list that knows its own position and the position of each item."""
    file = None
    line = None
    col = None

    def __init__(self, *args):
        super().__init__(*args)
        self.item_marks = []

    def mark_of(self, index):
        if 0 <= index < len(self.item_marks):
            return self.item_marks[index]
        return (self.line, self.col)


class _Loader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences are Marked*; no arbitrary objects."""
    filename = None


def _pos(node):
    return node.start_mark.line + 1, node.start_mark.column + 1


def _construct_mapping(loader, node):
    loader.flatten_mapping(node)
    out = MarkedDict()
    out.file, (out.line, out.col) = loader.filename, _pos(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            line, col = _pos(key_node)
            raise ConfigError("a mapping key must be a plain value", loader.filename, line, col)
        if key in out:
            line, col = _pos(key_node)
            raise ConfigError(f"duplicate key '{key}'", loader.filename, line, col)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_marks[key] = _pos(key_node)
    return out


def _construct_sequence(loader, node):
    out = MarkedList(loader.construct_object(child, deep=True) for child in node.value)
    out.file, (out.line, out.col) = loader.filename, _pos(node)
    out.item_marks = [_pos(child) for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


_OPENED = {"flow mapping": "the '{' opened", "flow sequence": "the '[' opened",
           "quoted scalar": "the quoted string begun", "block mapping": "the mapping begun",
           "block collection": "the list begun"}


def _syntax_message(exc):
    """'invalid YAML: <problem>', and where the structure that is left open began, when
    that is not where parsing stopped (an unclosed '{' on line 6 is found on line 7)."""
    problem = exc.problem or exc.context or "invalid YAML"
    message = f"invalid YAML: {problem}"
    ctx, mark = exc.context, exc.context_mark
    if ctx and mark is not None and exc.problem_mark is not None and \
            (mark.line, mark.column) != (exc.problem_mark.line, exc.problem_mark.column):
        what = ctx.replace("while parsing ", "").replace("while scanning ", "")
        opened = _OPENED.get(what.removeprefix("a ").removeprefix("an "), f"the {what}")
        message += (f" ({opened} on line {mark.line + 1}, column {mark.column + 1} is not "
                    "closed)" if what.startswith(("a flow", "a quoted")) else
                    f" (in {opened} on line {mark.line + 1}, column {mark.column + 1})")
    return message


def load_yaml_text(text, filename="<string>"):
    """Parse YAML text; a syntax error becomes a ConfigError with its position."""
    loader = _Loader(text)
    loader.filename = filename
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise ConfigError(_syntax_message(exc), filename, line, col) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", filename) from None
    finally:
        loader.dispose()


def load_yaml(path):
    """Read a YAML file; a missing or unreadable file is a ConfigError naming it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", path) from None
    return load_yaml_text(text, str(path))
