"""YAML with safe semantics that remembers where every mapping, list and key came from.

`load_yaml(path)` returns plain dicts and lists (subclasses `MarkedDict`, `MarkedList`)
that carry `file`, `line`, `col` and, per key or item, the position of that key or item,
so that a validation error can name file:line:column.

Hostile text is refused here with one ConfigError line: a NUL or other control character
(with its position), nesting deeper than MAX_DEPTH (before Python's recursion limit is
reached), and a document whose aliases expand past MAX_NODES nodes (the "billion laughs":
a few hundred bytes that stand for billions of values).
"""
import stat
from pathlib import Path

import yaml

from .errors import ConfigError, shown


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


MAX_BYTES = 64 << 20     # a config file; the largest Caffe nets are ~100 KB of text
MAX_DEPTH = 64           # nested mappings/lists: a net config needs about 6
MAX_NODES = 250_000      # values after expanding aliases; a 150-layer ResNet has ~20,000


class _Loader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences are Marked*; no arbitrary objects; nesting
    bounded while composing (so no RecursionError)."""
    filename = None
    _depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise ConfigError(f"nested more than {MAX_DEPTH} levels deep (a config needs a "
                                  "handful)", self.filename, mark.line + 1, mark.column + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _check_expansion(root, filename):
    """Refuse a node graph that stands for more than MAX_NODES values once aliases are
    expanded. Sizes are counted per node once (memoised), so this is linear in the text."""
    size = {}
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in size:
            continue
        children = []
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        if done or not children:
            total = 1 + sum(size.get(id(c), 0) for c in children)
            size[id(node)] = total
            if total > MAX_NODES:
                line, col = _pos(node)
                raise ConfigError(f"this document expands to more than {MAX_NODES:,} values "
                                  "(aliases referring to aliases?); refused", filename, line, col)
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in size)


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
            raise ConfigError(f"duplicate key {shown(key)}", loader.filename, line, col)
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
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text, filename) from None
    loader.filename = filename
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, filename)
        return loader.construct_document(node)
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text, filename) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise ConfigError(_syntax_message(exc), filename, line, col) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {shown(str(exc), 200)}", filename) from None
    except RecursionError:    # not expected past MAX_DEPTH; never a traceback all the same
        raise ConfigError("nested too deeply", filename) from None
    finally:
        loader.dispose()


def _reader_error(exc, text, filename):
    """PyYAML's ReaderError (a control character, bad encoding) with its line and column."""
    pos = exc.position if isinstance(exc.position, int) else 0
    line = text.count("\n", 0, pos) + 1 if isinstance(text, str) else None
    col = pos - text.rfind("\n", 0, pos) if isinstance(text, str) else None
    char = exc.character
    what = (f"character {shown(chr(char) if isinstance(char, int) else char, 20)} "
            f"(code {ord(char) if isinstance(char, str) else char:#x})" if char is not None
            else "character")
    return ConfigError(f"invalid YAML: {what} is not allowed in a config; remove it",
                       filename, line, col)


def load_yaml(path):
    """Read a YAML file; a missing or unreadable file is a ConfigError naming it."""
    return load_yaml_text(read_config_text(path), str(path))


def read_config_text(path):
    """The text of a config file (YAML or prototxt): a regular file of at most MAX_BYTES,
    UTF-8; anything else is a ConfigError naming it."""
    path = Path(path)
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise ConfigError("is a folder, not a config file", path)
        if not stat.S_ISREG(st.st_mode):      # a FIFO would block, a device never end
            raise ConfigError("not a regular file (a FIFO or a device?)", path)
        if st.st_size > MAX_BYTES:
            raise ConfigError(f"{st.st_size:,} bytes; a config is at most {MAX_BYTES:,}", path)
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", path) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:   # ValueError: a NUL in the path
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"cannot read: {exc}", path) from None
    return text
