"""A parser for protobuf text format (the `.prototxt` files of Caffe), with no protobuf
dependency and no schema: it returns the message tree with the line of every field.

    layer {                      # a nested message: `name {` or `name: {` (or `<...>`)
      name: "conv1"              # a string (double or single quotes, C escapes, "a" "b" joined)
      convolution_param { num_output: 20 kernel_size: 5 }
      include { phase: TRAIN }   # an identifier: enum value, true/false, inf, nan
    }
    stepvalue: [100, 200]        # the list short form of a repeated scalar

`parse_prototxt(text)` -> Message. A Message keeps its fields in file order (a repeated
field appears once per occurrence); `get`, `getall`, `line_of` read them. Syntax errors
are PrototxtError with file, line and column.
"""
import re

from .errors import ConfigError, shown


class PrototxtError(ConfigError):
    """A syntax error in a prototxt file, located by line and column."""


class Ident(str):
    """A bare identifier (an enum value such as MAX or TRAIN, or true/false)."""


class Message:
    """One message: its fields as (name, value, line) in file order."""

    def __init__(self, line=None):
        self.fields = []
        self.line = line

    def add(self, name, value, line):
        self.fields.append((name, value, line))

    def getall(self, name):
        return [v for n, v, _ in self.fields if n == name]

    def get(self, name, default=None):
        """The last value of `name` (protobuf's rule for a singular field given twice)."""
        values = self.getall(name)
        return values[-1] if values else default

    def has(self, name):
        return any(n == name for n, _, _ in self.fields)

    def line_of(self, name):
        for n, _, line in self.fields:
            if n == name:
                return line
        return self.line

    def names(self):
        """Field names in first-seen order, each once."""
        seen = []
        for n, _, _ in self.fields:
            if n not in seen:
                seen.append(n)
        return seen

    def to_dict(self):
        """Plain dict view (repeated fields as lists), mainly for debugging and tests."""
        out = {}
        for n in self.names():
            values = [v.to_dict() if isinstance(v, Message) else v for v in self.getall(n)]
            out[n] = values[0] if len(values) == 1 else values
        return out

    def __repr__(self):
        return f"Message({self.to_dict()!r})"


_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\f\v]+) | (?P<nl>\n) | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)[fF]?
               |-(?:inf(?:inity)?|nan)\b)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[{}<>:;,\[\]])
""", re.VERBOSE | re.IGNORECASE)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "a": "\a",
            "b": "\b", "f": "\f", "v": "\v", "?": "?"}


def _unescape(body, where):
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt in "xX":
            m = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2:])
            if not m:
                raise where("bad \\x escape in string")
            out.append(chr(int(m.group(), 16)))
            i += 2 + len(m.group())
        elif nxt.isdigit():
            m = re.match(r"[0-7]{1,3}", body[i + 1:])
            out.append(chr(int(m.group(), 8)))
            i += 1 + len(m.group())
        else:
            raise where(f"unknown escape '\\{nxt}' in string")
    return "".join(out)


def _tokenize(text, file):
    tokens, line, line_start, pos = [], 1, 0, 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        col = pos - line_start + 1
        if not m:
            raise PrototxtError(f"unexpected character {text[pos]!r}", file, line, col)
        kind = m.lastgroup
        if kind == "nl":
            line, line_start = line + 1, m.end()
        elif kind not in ("ws", "comment"):
            tokens.append((kind, m.group(), line, col))
        pos = m.end()
    tokens.append(("eof", "", line, pos - line_start + 1))
    return tokens


def _number(token):
    low = token.lower()
    if low.lstrip("+-") in ("inf", "infinity", "nan"):
        return float(low)
    if low.lstrip("+-").startswith("0x"):
        return int(low, 16)
    t = token.rstrip("fF")
    if re.fullmatch(r"[-+]?\d+", t):
        return int(t)
    return float(t)


MAX_DEPTH = 64          # nested messages; a Caffe net needs 4 (net, layer, param, filler)


class _Parser:
    def __init__(self, text, file):
        self.file = file
        self.tokens = _tokenize(text, file)
        self.i = 0
        self.depth = 0

    def peek(self):
        return self.tokens[self.i]

    def take(self):
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def error(self, message, tok=None):
        tok = tok or self.peek()
        return PrototxtError(message, self.file, tok[2], tok[3])

    def expect(self, value):
        tok = self.take()
        if tok[1] != value:
            found = "end of file" if tok[0] == "eof" else shown(tok[1])
            raise self.error(f"expected '{value}', found {found}", tok)
        return tok

    def message(self, closer, line):
        self.depth += 1
        if self.depth > MAX_DEPTH:   # refused before Python's recursion limit is met
            raise self.error(f"messages nested more than {MAX_DEPTH} levels deep")
        try:
            return self._message_body(closer, line)
        finally:
            self.depth -= 1

    def _message_body(self, closer, line):
        msg = Message(line)
        while True:
            tok = self.peek()
            if tok[0] == "eof":
                if closer is None:
                    return msg
                raise self.error(f"missing '{closer}' for the message opened on line {line}")
            if closer is not None and tok[1] == closer:
                self.take()
                return msg
            if tok[0] != "ident":
                raise self.error(f"expected a field name, found {shown(tok[1])}"
                                 if tok[1] else "expected a field name")
            self.field(msg)
            if self.peek()[1] in (";", ","):
                self.take()

    def field(self, msg):
        name_tok = self.take()
        name, line = name_tok[1], name_tok[2]
        colon = self.peek()[1] == ":"
        if colon:
            self.take()
        tok = self.peek()
        if tok[1] in ("{", "<"):
            self.take()
            msg.add(name, self.message("}" if tok[1] == "{" else ">", line), line)
        elif not colon:
            raise self.error(f"expected ':' or '{{' after field '{name}'", tok)
        elif tok[1] == "[":
            self.take()
            while self.peek()[1] != "]":
                if self.peek()[1] in ("{", "<"):
                    opener = self.take()[1]
                    msg.add(name, self.message("}" if opener == "{" else ">", line), line)
                else:
                    msg.add(name, self.scalar(), line)
                if self.peek()[1] == ",":
                    self.take()
                elif self.peek()[1] != "]":
                    raise self.error(f"expected ',' or ']' in the list of '{name}'")
            self.take()
        else:
            msg.add(name, self.scalar(), line)

    def scalar(self):
        tok = self.take()
        kind, text = tok[0], tok[1]
        if kind == "string":
            parts = [text]
            while self.peek()[0] == "string":
                parts.append(self.take()[1])
            where = lambda m: self.error(m, tok)  # noqa: E731
            return "".join(_unescape(p[1:-1], where) for p in parts)
        if kind == "number":
            try:
                return _number(text)
            except ValueError:
                raise self.error(f"bad number {shown(text)}", tok) from None
        if kind == "ident":
            low = text.lower()
            if low in ("true", "t"):
                return True
            if low in ("false", "f"):
                return False
            if low in ("inf", "infinity", "nan"):
                return float(low)
            return Ident(text)
        found = "end of file" if kind == "eof" else shown(text)
        raise self.error(f"expected a value, found {found}", tok)


def parse_prototxt(text, file=None):
    """Parse protobuf text format -> the top-level Message (PrototxtError on bad syntax)."""
    return _Parser(text, file).message(None, 1)


def load_prototxt(path):
    """Read and parse a .prototxt file; a missing file is a ConfigError naming it."""
    from .yaml_loader import read_config_text
    return parse_prototxt(read_config_text(path), str(path))
