"""Files layerflow writes and reads: weights, solver state."""
from .weights import (WeightsFileError, copy_weights, load_npz, load_weights, save_npz_atomic,
                      save_weights)

__all__ = ["WeightsFileError", "copy_weights", "load_npz", "load_weights", "save_npz_atomic",
           "save_weights"]
