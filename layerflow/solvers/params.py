"""SolverParams: the `solver:` block of a config, with Caffe's field names and defaults."""
from dataclasses import dataclass, field
from typing import Literal

from ..config.schema import bounded

SOLVER_TYPES = ("SGD", "Nesterov", "AdaGrad", "RMSProp", "AdaDelta", "Adam", "AdamW")
LR_POLICIES = ("fixed", "step", "exp", "inv", "multistep", "poly", "sigmoid", "cosine")


@dataclass
class SolverParams:
    type: Literal[SOLVER_TYPES] = "SGD"
    base_lr: float = bounded(0.01, lo=0.0)
    momentum: float = bounded(0.0, lo=0.0)
    momentum2: float = bounded(0.999, lo=0.0, hi=1.0)
    delta: float = bounded(1e-8, lo=0.0)
    rms_decay: float = bounded(0.99, lo=0.0, hi=1.0)
    weight_decay: float = bounded(0.0, lo=0.0)
    regularization_type: Literal["L2", "L1"] = "L2"
    lr_policy: Literal[LR_POLICIES] = "fixed"
    gamma: float = 0.0
    power: float = 0.0
    stepsize: int = bounded(0, lo=0)
    stepvalue: list[int] = field(default_factory=list)
    warmup_iter: int = bounded(0, lo=0)
    max_iter: int = bounded(0, lo=0)
    iter_size: int = bounded(1, lo=1)
    clip_gradients: float = -1.0
    test_interval: int = bounded(0, lo=0)
    test_iter: int = bounded(0, lo=0)
    test_initialization: bool = False
    display: int = bounded(0, lo=0)
    average_loss: int = bounded(1, lo=1)
    snapshot: int = bounded(0, lo=0)
    snapshot_prefix: str = "snapshots/model"
    snapshot_after_train: bool = True
    mode: Literal["cpu", "cuda"] = "cpu"
    random_seed: int = -1
    debug_info: bool = False

    def __post_init__(self):
        needs = {"step": ("stepsize", "gamma"), "exp": ("gamma",), "inv": ("gamma", "power"),
                 "multistep": ("stepvalue", "gamma"), "poly": ("power",),
                 "sigmoid": ("stepsize", "gamma")}
        for key in needs.get(self.lr_policy, ()):
            if not getattr(self, key):
                raise ValueError(f"lr_policy '{self.lr_policy}' needs '{key}'")
        if sorted(self.stepvalue) != self.stepvalue:
            raise ValueError(f"'stepvalue' must increase, got {self.stepvalue}")
        if self.test_interval and not self.test_iter:
            raise ValueError("'test_interval' is set but 'test_iter' is 0")
