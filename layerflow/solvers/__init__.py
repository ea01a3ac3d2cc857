"""Solvers: the training loop (`Solver`) and one file per update rule."""
from . import sgd  # noqa: F401  (registers SGD)
from .base import Solver, register_solver
from .lr_policy import learning_rate
from .params import SolverParams

__all__ = ["Solver", "SolverParams", "learning_rate", "register_solver"]
