"""Fillers: the initial values of learnable blobs, as Caffe defines them.

    weight_filler: {type: xavier}                 # U(-a, a), a = sqrt(3 / fan_in)
    weight_filler: {type: gaussian, std: 0.01}
    bias_filler: {type: constant, value: 0.1}

fan_in = count / shape[0] and fan_out = count / shape[1], so that InnerProduct
(num_output, K) and Convolution (num_output, C/g, kh, kw) weights get Caffe's scales.
"""
from dataclasses import dataclass
from typing import Literal

import numpy as np


@dataclass
class FillerSpec:
    type: Literal["constant", "uniform", "gaussian", "xavier", "msra", "positive_unitball",
                  "bilinear"] = "constant"
    value: float = 0.0
    min: float = 0.0
    max: float = 1.0
    mean: float = 0.0
    std: float = 1.0
    sparse: int = -1
    variance_norm: Literal["FAN_IN", "FAN_OUT", "AVERAGE"] = "FAN_IN"

    def __post_init__(self):
        for name in ("value", "min", "max", "mean", "std"):
            if not np.isfinite(getattr(self, name)):
                raise ValueError(f"filler {name} must be a finite number, got "
                                 f"{getattr(self, name)}")
        if self.type == "uniform" and not np.isfinite(self.max - self.min):
            raise ValueError(f"uniform filler: max - min ({self.max} - {self.min}) overflows")
        if self.type == "uniform" and self.min > self.max:
            raise ValueError(f"uniform filler: min {self.min} > max {self.max}")
        if self.std < 0:
            raise ValueError(f"filler std must be >= 0, got {self.std}")


def _fans(shape):
    count = int(np.prod(shape))
    fan_in = count // shape[0] if shape and shape[0] else count
    fan_out = count // shape[1] if len(shape) > 1 and shape[1] else count
    return fan_in, fan_out


def _scale_n(spec, shape):
    fan_in, fan_out = _fans(shape)
    return {"FAN_IN": fan_in, "FAN_OUT": fan_out, "AVERAGE": (fan_in + fan_out) / 2.0}[
        spec.variance_norm]


def fill(array, spec, rng):
    """Fill `array` in place according to `spec`, drawing from numpy Generator `rng`."""
    shape = array.shape
    kind = spec.type
    if kind == "constant":
        array[...] = spec.value
    elif kind == "uniform":
        array[...] = rng.uniform(spec.min, spec.max, shape)
    elif kind == "gaussian":
        array[...] = rng.normal(spec.mean, spec.std, shape)
        if spec.sparse >= 0:
            num_outputs = shape[0] if shape else 1
            keep = rng.random(shape) < min(1.0, spec.sparse / max(num_outputs, 1))
            array *= keep
    elif kind == "xavier":
        a = np.sqrt(3.0 / _scale_n(spec, shape))
        array[...] = rng.uniform(-a, a, shape)
    elif kind == "msra":
        array[...] = rng.normal(0.0, np.sqrt(2.0 / _scale_n(spec, shape)), shape)
    elif kind == "positive_unitball":
        values = rng.uniform(0.0, 1.0, shape).reshape(shape[0] if shape else 1, -1)
        values /= values.sum(axis=1, keepdims=True)
        array[...] = values.reshape(shape)
    elif kind == "bilinear":
        array[...] = bilinear_kernel(shape)
    else:  # pragma: no cover - FillerSpec's Literal rules this out
        raise ValueError(f"unknown filler '{kind}'")


def bilinear_kernel(shape):
    """Caffe's bilinear upsampling weights for a 4-D (.., .., k, k) blob."""
    if len(shape) != 4 or shape[2] != shape[3]:
        raise ValueError(f"bilinear filler needs a 4-D blob with square kernels, got {shape}")
    k = shape[3]
    f = np.ceil(k / 2.0)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    idx = np.arange(k)
    w1 = 1 - np.abs(idx / f - c)
    return np.broadcast_to(np.outer(w1, w1), shape)
