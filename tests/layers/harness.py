"""The shared layer-test harness: build a layer from YAML-level params, run it, check its
gradients numerically, and compare it with PyTorch.

A layer test then reads: inputs, a reference, tolerances (Chainer's FunctionTestCase idea).
`LayerCase` holds exactly that, and `run_case` runs one case in one dtype on one backend:
"cpu", and "fake" (a runtime in CUDA mode on tests/fake_device.py: layers without GPU twins
run the CPU fallback through the blobs' device heads). The CUDA backend joins BACKENDS when
layerflow has CUDA kernels and a device (or Numba's simulator) is present.
"""
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

from layerflow.blob import Blob
from layerflow.config import Where, from_mapping
from layerflow.gradcheck import GradientChecker
from layerflow.registry import get_layer_class

DTYPES = [np.float32, np.float64]


BACKENDS = ["cpu", "fake"]


def backend_runtime(backend):
    """The runtime a layer test runs on for `backend` (None: the default CPU runtime)."""
    if backend == "cpu":
        return None
    from tests.fake_device import FakeRuntime
    return FakeRuntime(mode="cuda")


def make_layer(type_name, params=None, bottoms=(), num_top=1, dtype=np.float64, phase="TRAIN",
               seed=0, name=None, runtime=None):
    """(layer, bottom blobs, top blobs), set up and reshaped, bottoms holding `bottoms`."""
    cls = get_layer_class(type_name)
    p = from_mapping(cls.Params, params or {}, Where())
    layer = cls(p, name or type_name.lower(), phase, None, np.random.default_rng(seed), dtype,
                runtime=runtime)
    bottom = []
    for i, a in enumerate(bottoms):
        blob = Blob(np.shape(a), dtype, name=f"bottom{i}", device=layer.device)
        blob.data[...] = a
        bottom.append(blob)
    top = [Blob((), dtype, name=f"top{i}", device=layer.device) for i in range(num_top)]
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
    assert sum(result.checked.values()) > 0, "the gradient check compared no element"
    assert result.ok, "gradient check failed:\n" + "\n".join(result.failures)
    return result


def tol(dtype):
    """(rtol, atol) for comparisons with PyTorch at this precision."""
    return (1e-5, 1e-6) if dtype == np.float32 else (1e-10, 1e-12)


class _NoTorch:
    """Stands in for PyTorch where it is not installed: a test skips at the point where it
    reaches for the reference, so gradient checks and graph tests still run without it."""

    def __getattr__(self, name):
        pytest.skip("PyTorch (the reference) is not installed")


try:
    import torch
except ImportError:
    torch = _NoTorch()


def to_torch(a, grad=True):
    t = torch.tensor(np.asarray(a))
    return t.requires_grad_(grad) if t.is_floating_point() else t


@dataclass
class LayerCase:
    """One layer test as data. `inputs(rng, dtype)` gives the bottom arrays; `reference(
    inputs, top_diffs, layer)` gives (tops, bottom diffs) computed independently (PyTorch or
    NumPy), bottom diffs None where the layer takes no gradient; `rtol`/`atol` per dtype
    name widen `tol`'s defaults; `grad` holds gradient-check options (kink_range ...)."""
    id: str
    type: str
    params: dict
    inputs: Callable
    reference: Callable | None = None
    num_top: int = 1
    phase: str = "TRAIN"
    rtol: dict = field(default_factory=dict)
    atol: dict = field(default_factory=dict)
    grad: dict = field(default_factory=dict)
    check_gradient: bool = True


def run_case(case, dtype, backend):
    """Forward and backward of `case` on `backend` in `dtype`, compared with its reference
    and with the CPU backend; the float64 CPU run also checks the gradient numerically."""
    rng = np.random.default_rng(7)
    xs = [np.asarray(a, dtype) for a in case.inputs(rng, dtype)]
    layer, bottom, top = make_layer(case.type, case.params, xs, case.num_top, dtype,
                                    case.phase, runtime=backend_runtime(backend))
    tops = forward(layer, bottom, top)
    dys = [rng.normal(size=t.shape).astype(dtype) for t in tops]
    dxs, dps = backward(layer, bottom, top, dys)
    rtol, atol = tol(dtype)
    rtol, atol = case.rtol.get(np.dtype(dtype).name, rtol), case.atol.get(np.dtype(dtype).name,
                                                                          atol)
    if backend != "cpu":
        ref = make_layer(case.type, case.params, xs, case.num_top, dtype, case.phase)
        want = forward(*ref), backward(*ref, dys)
        for a, b in zip(tops + dxs + dps, want[0] + want[1][0] + want[1][1]):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    if case.reference is not None:
        ref_tops, ref_dxs = case.reference(xs, dys, layer)
        for a, b in zip(tops, ref_tops):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
        for a, b in zip(dxs, ref_dxs or []):
            if b is not None:
                np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    if case.check_gradient and backend == "cpu" and np.dtype(dtype) == np.float64:
        check_gradient(layer, bottom, top, **case.grad)


def torch_reference(fn):
    """A reference from a PyTorch function of the bottoms: (tops, bottom grads) for the
    given top diffs, in the inputs' dtype."""
    def reference(xs, dys, layer):
        ts = [to_torch(x) for x in xs]
        out = fn(*ts)
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        torch.autograd.backward(outs, [torch.tensor(d) for d in dys])
        return ([o.detach().numpy() for o in outs],
                [t.grad.numpy() if t.grad is not None else None for t in ts])
    return reference
