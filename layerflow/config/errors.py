"""ConfigError: one clear line that says where a config is wrong and what would be right."""
import difflib


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
        who = f"layer '{self.layer}': " if self.layer else ""
        return f"{where}: {who}{self.message}"


def closest(word, choices, n=3):
    """The valid names closest to a misspelt one, best first."""
    choices = [str(c) for c in choices]
    hits = difflib.get_close_matches(str(word), choices, n=n, cutoff=0.6)
    if not hits:
        lower = {c.lower(): c for c in choices}
        hits = [lower[h] for h in difflib.get_close_matches(str(word).lower(), list(lower), n=n,
                                                             cutoff=0.6)]
    return hits


def nearest(word, choices, n=5):
    """The n names most like `word` (case-insensitive similarity), however far, best first."""
    word = str(word).lower()
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
