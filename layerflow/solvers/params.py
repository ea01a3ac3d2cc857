"""SolverParams: the `solver:` block of a config, with Caffe's field names and defaults.

Where Caffe's default would make a rule useless, the default depends on `type`:
`momentum` (left out) is 0 for SGD and Nesterov, 0.9 for Adam and AdamW (beta1) and 0.95 for
AdaDelta (its decay rho, as in Caffe's AdaDelta example and Zeiler's paper). AdaGrad and
RMSProp take no momentum, as in Caffe.
"""
from dataclasses import dataclass, field
from typing import Literal

from ..config.schema import bounded

SOLVER_TYPES = ("SGD", "Nesterov", "AdaGrad", "RMSProp", "AdaDelta", "Adam", "AdamW")
LR_POLICIES = ("fixed", "step", "exp", "inv", "multistep", "poly", "sigmoid", "cosine")
SIGNAL_EFFECTS = ("stop", "snapshot", "none")
DEFAULT_MOMENTUM = {"SGD": 0.0, "Nesterov": 0.0, "AdaGrad": 0.0, "RMSProp": 0.0,
                    "AdaDelta": 0.95, "Adam": 0.9, "AdamW": 0.9}


@dataclass
class SolverParams:
    type: Literal[SOLVER_TYPES] = "SGD"
    base_lr: float = bounded(0.01, lo=0.0)
    momentum: float | None = bounded(None, lo=0.0)
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
    min_lr: float = bounded(0.0, lo=0.0)
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
    snapshot_keep: int = bounded(0, lo=0)
    sigint_effect: Literal[SIGNAL_EFFECTS] = "stop"
    sigterm_effect: Literal[SIGNAL_EFFECTS] = "stop"
    sighup_effect: Literal[SIGNAL_EFFECTS] = "snapshot"
    mode: Literal["cpu", "cuda"] = "cpu"
    device_id: int = bounded(0, lo=0)
    threads: int = bounded(0, lo=0)          # 0: LAYERFLOW_NUM_THREADS, else the CPUs
    random_seed: int = -1
    debug_info: bool = False
    mpi: bool = False                  # true: refuse to train unless started by mpirun

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
        if self.momentum is None:
            self.momentum = DEFAULT_MOMENTUM[self.type]
        if self.type in ("AdaGrad", "RMSProp") and self.momentum != 0:
            raise ValueError(f"{self.type} takes no 'momentum' (got {self.momentum}), as in "
                             "Caffe" + ("; its decay is 'rms_decay'" if self.type == "RMSProp"
                                        else ""))
        if self.type in ("AdaDelta", "Adam", "AdamW") and not self.momentum < 1.0:
            raise ValueError(f"{self.type} needs 'momentum' < 1, got {self.momentum}")
        if self.type in ("Adam", "AdamW") and not self.momentum2 < 1.0:
            raise ValueError(f"{self.type} needs 'momentum2' < 1, got {self.momentum2}")
        if self.type == "RMSProp" and not self.rms_decay < 1.0:
            raise ValueError(f"RMSProp needs 'rms_decay' < 1, got {self.rms_decay}")
        if self.type == "AdaDelta" and self.delta <= 0:
            raise ValueError("AdaDelta needs 'delta' > 0 (it seeds the first steps)")
