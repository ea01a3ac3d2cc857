"""Solvers: the training loop (`Solver`) and one file per update rule."""
from . import adadelta, adagrad, adam, adamw, nesterov, rmsprop, sgd  # noqa: F401 (register)
from .base import (NonFiniteError, Solver, find_snapshots, latest_state, register_solver,
                   solver_types)
from .lr_policy import learning_rate
from .params import SolverParams

__all__ = ["NonFiniteError", "Solver", "SolverParams", "find_snapshots", "latest_state",
           "learning_rate", "register_solver", "solver_types"]
