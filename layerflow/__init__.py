"""layerflow: a Caffe-style deep-learning framework in Python with Numba kernels."""
from .blob import Blob
from .config import ConfigError
from .layer import Layer, ShapeError
from .net import Net
from .registry import register_layer

__version__ = "0.1.0"

__all__ = ["Blob", "ConfigError", "Layer", "Net", "ShapeError", "register_layer", "Solver",
           "__version__"]


def __getattr__(name):
    if name == "Solver":
        from .solvers import Solver
        return Solver
    raise AttributeError(f"module 'layerflow' has no attribute '{name}'")
