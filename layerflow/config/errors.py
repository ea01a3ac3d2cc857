"""ConfigError: one clear line that says where a config is wrong and what would be right."""
import difflib
import reprlib

MAX_SHOWN = 80          # characters of a config value echoed in a message
MAX_LINE = 2000         # a whole error line, the last guard


class _ShortRepr(reprlib.Repr):
    """reprlib with the loader's Marked* containers treated as the dict and list they are, so
    that a deep or alias-expanded value is cut at a few levels and items, never walked whole."""

    def __init__(self):
        super().__init__()
        self.maxlevel, self.maxdict, self.maxlist, self.maxtuple = 3, 4, 6, 6
        self.maxstring, self.maxother, self.maxlong = MAX_SHOWN, MAX_SHOWN, 40

    def repr_MarkedDict(self, x, level):
        return self.repr_dict(x, level)

    def repr_MarkedList(self, x, level):
        return self.repr_list(x, level)


_SHORT = _ShortRepr()


def _one_line(text):
    """Control characters (a newline in a key, a NUL) shown escaped: an error is one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def shown(value, limit=MAX_SHOWN):
    """`repr(value)` for an error message, cut to `limit` characters (and a few levels and
    items of a container): every message that echoes a config value goes through here, so that
    a hostile value (a megabyte string, an alias bomb) never makes a megabyte line."""
    try:
        text = _SHORT.repr(value)
    except Exception:  # a repr that fails is no reason to lose the real error
        text = f"<{type(value).__name__}>"
    if len(text) > limit:
        text = text[:limit - 3] + "..."
    return _one_line(text)


class ConfigError(ValueError):
    """A mistake in a config, located by file, line and column (1-based) and layer name."""

    def __init__(self, message, file=None, line=None, col=None, layer=None):
        self.message = message
        self.file = file
        self.line = line
        self.col = col
        self.layer = layer
        super().__init__(str(self))

    def __str__(self):
        where = str(self.file) if self.file else "<config>"
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        layer = str(self.layer)
        if len(layer) > MAX_SHOWN:
            layer = layer[:MAX_SHOWN - 3] + "..."
        who = f"layer '{layer}': " if self.layer else ""
        text = _one_line(f"{where}: {who}{self.message}")
        return text if len(text) <= MAX_LINE else text[:MAX_LINE - 3] + "..."


def closest(word, choices, n=3):
    """The valid names closest to a misspelt one, best first."""
    if not isinstance(word, (str, int, float)):
        return []                # str() of a container would walk all of it
    choices = [str(c) for c in choices]
    word = str(word)
    if len(word) > 200:         # difflib is quadratic; nothing valid is that long anyway
        return []
    hits = difflib.get_close_matches(word, choices, n=n, cutoff=0.6)
    if not hits:
        lower = {c.lower(): c for c in choices}
        hits = [lower[h] for h in difflib.get_close_matches(word.lower(), list(lower), n=n,
                                                             cutoff=0.6)]
    return hits


def nearest(word, choices, n=5):
    """The n names most like `word` (case-insensitive similarity), however far, best first;
    only the start of a very long word is compared (SequenceMatcher is quadratic)."""
    word = (str(word) if isinstance(word, (str, int, float)) else "")[:200].lower()
    scored = sorted((-difflib.SequenceMatcher(None, word, str(c).lower()).ratio(), str(c))
                    for c in choices)
    return [c for _, c in scored[:n]]


def did_you_mean(word, choices):
    """' (did you mean 'x'?)'; with no close name, the few nearest ones (all of them when
    there are at most 8), never a wall of every valid name."""
    hits = closest(word, choices)
    if hits:
        return " (did you mean " + " or ".join(f"'{h}'" for h in hits) + "?)"
    names = sorted(str(c) for c in choices)
    if not names:
        return ""
    if len(names) <= 8:
        return f" (valid: {', '.join(names)})"
    near = nearest(word, names)
    return f" (nearest: {', '.join(near)}; {len(names) - len(near)} more valid names)"
