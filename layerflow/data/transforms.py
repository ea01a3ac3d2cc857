"""Data transforms: Caffe's transform_param plus the usual augmentations, composable.

A data layer's `transform:` takes one of two forms:

- a mapping, Caffe's transform_param (and the extra augmentations), applied in a fixed order:
  mean_file, crop_size, resized_crop, rotate, mirror, color_jitter, mean_value, scale --
  so `{crop_size: 24, mirror: true, mean_value: [104, 117, 123], scale: 0.017}` gives
  Caffe's `(crop(mirror(x)) - mean) * scale`;
- a list of one-key steps, applied in the order written:
  `[{crop: 24}, {mirror: true}, {rotate: 10}, {scale: 0.00390625}]`.

Random steps (random crop, mirror, rotate, resized_crop, color_jitter) draw from the layer's
generator in TRAIN; in TEST the crop is centred and the other random steps do nothing.
Every per-pixel step is a Numba kernel (layerflow/kernels/cpu/transforms.py) that releases
the GIL, so the prefetch thread runs them beside the net.
"""
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from ..kernels.cpu import transforms as K


@dataclass
class ResizedCropSpec:
    """Random resized crop: a box of area fraction in `scale` and aspect ratio (w/h) in
    `ratio`, resized to `size` (an int, or [height, width]). TEST: the whole image."""
    size: int | list[int] = 0
    scale: list[float] = field(default_factory=lambda: [0.08, 1.0])
    ratio: list[float] = field(default_factory=lambda: [0.75, 4.0 / 3.0])

    def __post_init__(self):
        size = [self.size] * 2 if isinstance(self.size, int) else list(self.size)
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"resized_crop size takes a positive int or [height, width], "
                             f"got {self.size}")
        if len(self.scale) != 2 or not 0 < self.scale[0] <= self.scale[1] <= 1:
            raise ValueError(f"resized_crop scale takes [lo, hi] with 0 < lo <= hi <= 1, "
                             f"got {self.scale}")
        if len(self.ratio) != 2 or not 0 < self.ratio[0] <= self.ratio[1]:
            raise ValueError(f"resized_crop ratio takes [lo, hi] with 0 < lo <= hi, "
                             f"got {self.ratio}")
        self.size = size


@dataclass
class ColorJitterSpec:
    """Per-image factors drawn from U(1 - v, 1 + v) for brightness, contrast, saturation."""
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0

    def __post_init__(self):
        for name in ("brightness", "contrast", "saturation"):
            v = getattr(self, name)
            if not 0 <= v <= 1:
                raise ValueError(f"color_jitter {name} outside [0, 1], got {v}")


@dataclass
class TransformSpec:
    """Caffe's transform_param (mapping form); see the module docstring for the order."""
    scale: float = 1.0
    mean_value: float | list[float] = 0.0
    mean_file: str | None = None
    mirror: bool = False
    crop_size: int = 0
    rotate: float = 0.0
    resized_crop: ResizedCropSpec | None = None
    color_jitter: ColorJitterSpec | None = None

    def __post_init__(self):
        if self.crop_size < 0:
            raise ValueError(f"crop_size below 0: {self.crop_size}")
        if self.crop_size and self.resized_crop is not None:
            raise ValueError("use either crop_size or resized_crop, not both")

    def steps(self):
        """[(kind, value)] in Caffe's order, leaving out steps that do nothing."""
        out = []
        if self.mean_file:
            out.append(("mean_file", self.mean_file))
        if self.crop_size:
            out.append(("crop", self.crop_size))
        if self.resized_crop is not None:
            out.append(("resized_crop", self.resized_crop))
        if self.rotate:
            out.append(("rotate", self.rotate))
        if self.mirror:
            out.append(("mirror", True))
        if self.color_jitter is not None:
            out.append(("color_jitter", self.color_jitter))
        if np.any(np.asarray(self.mean_value) != 0):
            out.append(("mean_value", self.mean_value))
        if self.scale != 1.0:
            out.append(("scale", self.scale))
        return out


@dataclass
class TransformStep:
    """One step of the list form: exactly one key."""
    scale: float | None = None
    mean_value: float | list[float] | None = None
    mean_file: str | None = None
    mirror: bool | None = None
    crop: int | None = None
    rotate: float | None = None
    resized_crop: ResizedCropSpec | None = None
    color_jitter: ColorJitterSpec | None = None

    def __post_init__(self):
        given = [f.name for f in fields(self) if getattr(self, f.name) is not None]
        if len(given) != 1:
            raise ValueError("each transform step holds exactly one of "
                             f"{', '.join(f.name for f in fields(self))}; got "
                             f"{', '.join(given) or 'none'}")
        if self.crop is not None and self.crop < 1:
            raise ValueError(f"crop below 1: {self.crop}")

    def step(self):
        name = next(f.name for f in fields(self) if getattr(self, f.name) is not None)
        return name, getattr(self, name)


def transform_steps(spec):
    """[(kind, value)] from either YAML form (a TransformSpec or a list of TransformStep)."""
    if spec is None:
        return []
    if isinstance(spec, TransformSpec):
        return spec.steps()
    return [s.step() for s in spec if s.step() != ("mirror", False)]


# -- steps ------------------------------------------------------------------------------------
class _Step:
    """One transform step over (N, C, H, W) batches; `run` returns the array it wrote."""
    spatial = False
    in_place = True

    def out_shape(self, shape):
        return shape

    def prepare(self, batch, in_shape, dtype):
        self.in_shape = in_shape
        self.out = (None if self.in_place
                    else np.zeros((batch,) + self.out_shape(in_shape), dtype))

    def run(self, rng, x):
        raise NotImplementedError


class _Scale(_Step):
    def __init__(self, value, train):
        self.value = float(value)

    def run(self, rng, x):
        K.scale_inplace(x.reshape(len(x), -1), self.value)
        return x


class _MeanValue(_Step):
    def __init__(self, value, train):
        self.value = np.atleast_1d(np.asarray(value, np.float64))

    def prepare(self, batch, in_shape, dtype):
        super().prepare(batch, in_shape, dtype)
        channels = in_shape[0] if len(in_shape) > 1 else 1
        if self.value.size == 1:
            self.mean = np.full(channels, self.value[0], dtype)
        elif self.value.size == channels:
            self.mean = self.value.astype(dtype)
        else:
            raise ValueError(f"mean_value has {self.value.size} values for {channels} "
                             "channels (give one, or one per channel)")

    def run(self, rng, x):
        K.subtract_channel_mean(x.reshape(len(x), len(self.mean), -1), self.mean)
        return x


class _MeanFile(_Step):
    def __init__(self, value, train, base_dir=None):
        path = Path(value)
        if base_dir is not None and not path.is_absolute() and not path.exists():
            path = Path(base_dir) / path
        self.path = path

    def prepare(self, batch, in_shape, dtype):
        super().prepare(batch, in_shape, dtype)
        from .protobuf import load_mean_file
        mean = load_mean_file(self.path)
        if mean.size != int(np.prod(in_shape)) or (mean.ndim == len(in_shape)
                                                   and mean.shape != tuple(in_shape)):
            raise ValueError(f"{self.path}: mean of shape {list(mean.shape)} does not fit "
                             f"records of shape {list(in_shape)} at this transform step")
        self.mean = np.ascontiguousarray(mean.reshape(-1), dtype)

    def run(self, rng, x):
        K.subtract_mean_image(x.reshape(len(x), -1), self.mean)
        return x


class _Crop(_Step):
    """crop_size: a random square in TRAIN, the centre in TEST (Caffe's rule)."""
    spatial = True
    in_place = False

    def __init__(self, size, train):
        self.size, self.train = int(size), train

    def out_shape(self, shape):
        return (shape[0], self.size, self.size)

    def prepare(self, batch, in_shape, dtype):
        _, height, width = in_shape
        if self.size > height or self.size > width:
            raise ValueError(f"crop {self.size} is larger than the image {height}x{width}")
        super().prepare(batch, in_shape, dtype)
        self.u = np.zeros((batch, 2))
        self.offsets = np.zeros((batch, 2), np.int64)
        self.offsets[:, 0] = (height - self.size) // 2
        self.offsets[:, 1] = (width - self.size) // 2
        self.flips = np.zeros(batch, np.uint8)
        self.span = np.array([height - self.size + 1, width - self.size + 1])

    def run(self, rng, x):
        if self.train:
            rng.random(out=self.u)
            np.floor(self.u * self.span, out=self.u)
            self.offsets[...] = self.u
        K.crop_mirror(x, self.offsets, self.flips, self.out)
        return self.out


class _Mirror(_Step):
    """A horizontal flip with probability 1/2 per image, in TRAIN only."""
    spatial = True
    in_place = False

    def __init__(self, value, train):
        self.train = train and bool(value)

    def prepare(self, batch, in_shape, dtype):
        super().prepare(batch, in_shape, dtype)
        self.u = np.zeros(batch)
        self.flips = np.zeros(batch, np.uint8)
        self.offsets = np.zeros((batch, 2), np.int64)

    def run(self, rng, x):
        if not self.train:
            return x
        rng.random(out=self.u)
        np.less(self.u, 0.5, out=self.flips, casting="unsafe")
        K.crop_mirror(x, self.offsets, self.flips, self.out)
        return self.out


class _Rotate(_Step):
    """A rotation by an angle drawn from U(-degrees, degrees), bilinear, in TRAIN only."""
    spatial = True
    in_place = False

    def __init__(self, degrees, train):
        self.degrees, self.train = float(degrees), train

    def prepare(self, batch, in_shape, dtype):
        super().prepare(batch, in_shape, dtype)
        self.angles = np.zeros(batch)

    def run(self, rng, x):
        if not self.train or self.degrees == 0:
            return x
        rng.random(out=self.angles)
        self.angles *= 2 * self.degrees
        self.angles -= self.degrees
        K.rotate_bilinear(x, self.angles, self.out)
        return self.out


class _ResizedCrop(_Step):
    spatial = True
    in_place = False

    def __init__(self, spec, train):
        self.spec, self.train = spec, train

    def out_shape(self, shape):
        return (shape[0],) + tuple(self.spec.size)

    def prepare(self, batch, in_shape, dtype):
        super().prepare(batch, in_shape, dtype)
        self.u = np.zeros((batch, 4))
        self.boxes = np.zeros((batch, 4))
        _, height, width = in_shape
        self.boxes[:, 2], self.boxes[:, 3] = height, width     # TEST: the whole image

    def run(self, rng, x):
        if self.train:
            s, r = self.spec.scale, self.spec.ratio
            rng.random(out=self.u)
            K.resized_crop_boxes(self.u, x.shape[2], x.shape[3], s[0], s[1],
                                 math.log(r[0]), math.log(r[1]), self.boxes)
        K.resized_crop_bilinear(x, self.boxes, self.out)
        return self.out


class _ColorJitter(_Step):
    def __init__(self, spec, train):
        self.spec, self.train = spec, train

    def prepare(self, batch, in_shape, dtype):
        super().prepare(batch, in_shape, dtype)
        self.factors = np.ones((batch, 3))
        self.spread = np.array([self.spec.brightness, self.spec.contrast,
                                self.spec.saturation])

    def run(self, rng, x):
        if not self.train:
            return x
        rng.random(out=self.factors)
        self.factors *= 2 * self.spread
        self.factors += 1 - self.spread
        K.color_jitter(x.reshape(x.shape[0], x.shape[1], -1), self.factors)
        return x


_STEPS = {"scale": _Scale, "mean_value": _MeanValue, "mean_file": _MeanFile, "crop": _Crop,
          "mirror": _Mirror, "rotate": _Rotate, "resized_crop": _ResizedCrop,
          "color_jitter": _ColorJitter}


class Transform:
    """The steps of one data layer's `transform`, with their buffers, for one batch size.

    `apply(rng, x)` runs the steps on batch `x` (N, *record_shape), in place where it can,
    and returns the array that holds the result (shape (N,) + out_shape)."""

    def __init__(self, spec, train, record_shape, batch, dtype, base_dir=None):
        self.steps = []
        shape = tuple(record_shape)
        for kind, value in transform_steps(spec):
            step = (_MeanFile(value, train, base_dir) if kind == "mean_file"
                    else _STEPS[kind](value, train))
            if step.spatial and len(shape) != 3:
                raise ValueError(f"transform '{kind}' needs image records (C, H, W), "
                                 f"the source gives records of shape {list(shape)}")
            try:
                step.prepare(batch, shape, dtype)
            except ValueError as exc:
                raise ValueError(f"transform '{kind}': {exc}") from None
            shape = step.out_shape(shape)
            self.steps.append(step)
        self.out_shape = shape

    def apply(self, rng, x):
        for step in self.steps:
            x = step.run(rng, x)
        return x

    def __bool__(self):
        return bool(self.steps)
