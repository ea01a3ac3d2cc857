"""The typed blocks every layer shares: common keys, per-param settings, phase rules."""
from dataclasses import dataclass, field

from .errors import shown

# A layer name becomes part of zip member names in weights and state files
# (`{layer}/{index}`, `rng/train/{layer}`, ...), which zip limits to 65,535 bytes; a name is
# refused at parse time, long before a snapshot, past this many characters (4 bytes each at
# most in UTF-8, with room left for the key around it).
MAX_NAME = 1024


def check_name(kind, name):
    """ValueError for a name no weights file could hold (too long, control characters)."""
    if not name:
        raise ValueError(f"{kind} name must not be empty")
    if len(name) > MAX_NAME:
        raise ValueError(f"{kind} name is {len(name):,} characters long; at most {MAX_NAME} "
                         "(it becomes part of a member name in weights and state files)")
    if not name.isprintable():
        raise ValueError(f"{kind} name {shown(name, 40)} holds control characters")


@dataclass
class ParamSpec:
    """Per learnable blob: `name` shares it between layers; multipliers of lr and decay."""
    name: str = ""
    lr_mult: float = 1.0
    decay_mult: float = 1.0


@dataclass
class StateRule:
    """`include` / `exclude`: a layer is kept when the net's state matches (Caffe's
    NetStateRule)."""
    phase: str | None = None
    stage: list[str] = field(default_factory=list)
    not_stage: list[str] = field(default_factory=list)
    min_level: int | None = None
    max_level: int | None = None

    def __post_init__(self):
        if self.phase is not None:
            if self.phase.upper() not in ("TRAIN", "TEST"):
                raise ValueError(f"phase must be TRAIN or TEST, got '{self.phase}'")
            self.phase = self.phase.upper()

    def matches(self, phase, level=0, stages=()):
        if self.phase is not None and self.phase != phase:
            return False
        if self.min_level is not None and level < self.min_level:
            return False
        if self.max_level is not None and level > self.max_level:
            return False
        if any(s not in stages for s in self.stage):
            return False
        return not any(s in stages for s in self.not_stage)


@dataclass
class LayerCommon:
    """The keys every layer mapping may hold besides its own Params."""
    name: str
    type: str
    bottom: str | list[str] = field(default_factory=list)
    top: str | list[str] = field(default_factory=list)
    param: list[ParamSpec] = field(default_factory=list)
    loss_weight: float | list[float] | None = None
    propagate_down: bool | list[bool] | None = None
    include: StateRule | list[StateRule] = field(default_factory=list)
    exclude: StateRule | list[StateRule] = field(default_factory=list)

    def __post_init__(self):
        as_list = lambda v: [v] if not isinstance(v, list) else v  # noqa: E731
        check_name("layer", self.name)
        self.bottom, self.top = as_list(self.bottom), as_list(self.top)
        for blob in self.bottom + self.top:
            check_name("blob", blob)
        self.include, self.exclude = as_list(self.include), as_list(self.exclude)
        if self.include and self.exclude:
            raise ValueError("use either 'include' or 'exclude', not both")

    def keep(self, phase, level=0, stages=()):
        """Whether the layer belongs in a net of this phase, level and stages."""
        if self.include:
            return any(r.matches(phase, level, stages) for r in self.include)
        return not any(r.matches(phase, level, stages) for r in self.exclude)


COMMON_KEYS = tuple(LayerCommon.__dataclass_fields__)
