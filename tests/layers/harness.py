"""The shared layer-test harness: build a layer from YAML-level params, run it, check its
gradients numerically, and compare it with PyTorch.

A layer test then reads: inputs, a reference, tolerances (Chainer's FunctionTestCase idea).
"""
import numpy as np
import pytest

from layerflow.blob import Blob
from layerflow.config import Where, from_mapping
from layerflow.gradcheck import GradientChecker
from layerflow.registry import get_layer_class

DTYPES = [np.float32, np.float64]


def make_layer(type_name, params=None, bottoms=(), num_top=1, dtype=np.float64, phase="TRAIN",
               seed=0, name=None):
    """(layer, bottom blobs, top blobs), set up and reshaped, bottoms holding `bottoms`."""
    cls = get_layer_class(type_name)
    p = from_mapping(cls.Params, params or {}, Where())
    layer = cls(p, name or type_name.lower(), phase, None, np.random.default_rng(seed), dtype)
    bottom = []
    for i, a in enumerate(bottoms):
        blob = Blob(np.shape(a), dtype, name=f"bottom{i}")
        blob.data[...] = a
        bottom.append(blob)
    top = [Blob((), dtype, name=f"top{i}") for i in range(num_top)]
    layer.check_arity(len(bottom), len(top))
    layer.setup(bottom, top)
    layer.reshape(bottom, top)
    return layer, bottom, top


def forward(layer, bottom, top):
    layer.reshape(bottom, top)
    layer.forward(bottom, top)
    return [t.data.copy() for t in top]


def backward(layer, bottom, top, top_diffs, propagate=None):
    """Bottom diffs and param diffs (cleared first) for the given top diffs."""
    for t, d in zip(top, top_diffs):
        t.diff[...] = d
    for b in layer.blobs:
        b.diff[...] = 0
    propagate = propagate or [layer.can_backprop(i) for i in range(len(bottom))]
    layer.backward(top, propagate, bottom)
    return [b.diff.copy() for b in bottom], [b.diff.copy() for b in layer.blobs]


def check_gradient(layer, bottom, top, stepsize=1e-5, threshold=1e-5, **kwargs):
    """Assert the layer's analytic gradients match central differences (float64)."""
    assert layer.dtype == np.float64, "gradient checks run in float64"
    checker = GradientChecker(stepsize=stepsize, threshold=threshold,
                              kink=kwargs.pop("kink", 0.0), kink_range=kwargs.pop("kink_range", -1))
    result = checker.check(layer, bottom, top, **kwargs)
    assert result.ok, "gradient check failed:\n" + "\n".join(result.failures)
    return result


def tol(dtype):
    """(rtol, atol) for comparisons with PyTorch at this precision."""
    return (1e-5, 1e-6) if dtype == np.float32 else (1e-10, 1e-12)


torch = pytest.importorskip("torch")


def to_torch(a, grad=True):
    t = torch.tensor(np.asarray(a))
    return t.requires_grad_(grad) if t.is_floating_point() else t
