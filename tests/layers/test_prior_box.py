import math

import numpy as np
import pytest

from layerflow.config import ConfigError

from .harness import DTYPES, forward, make_layer


def reference(fh, fw, ih, iw, mins, maxs, ars, flip, clip, var, step=None, offset=0.5):
    """SSD's default boxes written from the paper's definition and SSD's layer notes."""
    ratios = [1.0]
    for r in ars:
        if not any(abs(r - q) < 1e-6 for q in ratios):
            ratios += [r, 1 / r] if flip else [r]
    sh, sw = (step, step) if step else (ih / fh, iw / fw)
    boxes = []
    for i in range(fh):
        for j in range(fw):
            cx, cy = (j + offset) * sw, (i + offset) * sh
            for s, m in enumerate(mins):
                m = int(m)
                sizes = [(m, m)]
                if maxs:
                    side = math.sqrt(m * int(maxs[s]))
                    sizes.append((side, side))
                base = math.sqrt(m * int(maxs[s])) if maxs else m
                sizes += [(base * math.sqrt(r), base / math.sqrt(r)) for r in ratios[1:]]
                for bw, bh in sizes:
                    boxes.append([(cx - bw / 2) / iw, (cy - bh / 2) / ih,
                                  (cx + bw / 2) / iw, (cy + bh / 2) / ih])
    boxes = np.array(boxes)
    if clip:
        boxes = boxes.clip(0, 1)
    var = var or [0.1]
    variances = np.tile(var if len(var) == 4 else var * 4, len(boxes))
    return np.stack([boxes.reshape(-1), variances])[None]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("params", [
    {"min_size": [30.0], "max_size": [60.0], "aspect_ratio": [2.0], "step": 8,
     "variance": [0.1, 0.1, 0.2, 0.2]},
    {"min_size": [60.0, 80.0], "max_size": [105.0, 110.0], "aspect_ratio": [2.0, 3.0, 2.0],
     "clip": True, "variance": [0.2]},
    {"min_size": [21.7], "aspect_ratio": [2.0, 0.5], "flip": False},
    {"min_size": [10.0], "aspect_ratio": [3.0], "offset": 0.0, "img_h": 40, "img_w": 50},
])
def test_prior_box_matches_reference(dtype, params):
    feat, img = np.zeros((1, 4, 3, 5)), np.zeros((1, 3, 30, 45))
    layer, bottom, top = make_layer("PriorBox", params, [feat, img], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    ih, iw = params.get("img_h", 30), params.get("img_w", 45)
    ref = reference(3, 5, ih, iw, params["min_size"], params.get("max_size", []),
                    params.get("aspect_ratio", []), params.get("flip", True),
                    params.get("clip", False), params.get("variance", []), params.get("step"),
                    params.get("offset", 0.5))
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=1e-6, atol=1e-7)


def test_prior_box_ssd300_conv4_3():
    """SSD300's first source layer: 38x38 map, 4 priors per position (sizes written bare)."""
    layer, bottom, top = make_layer(
        "PriorBox", {"min_size": 30, "max_size": 60, "aspect_ratio": 2,
                     "step": 8, "variance": [0.1, 0.1, 0.2, 0.2]},
        [np.zeros((1, 512, 38, 38)), np.zeros((1, 3, 300, 300))], dtype=np.float32)
    (y,) = forward(layer, bottom, top)
    assert y.shape == (1, 2, 38 * 38 * 4 * 4)
    first = y[0, 0, :16].reshape(4, 4)
    side = math.sqrt(30 * 60)
    np.testing.assert_allclose(first[0], [(4 - 15) / 300, (4 - 15) / 300, 19 / 300, 19 / 300],
                               rtol=1e-6)
    np.testing.assert_allclose(first[1, 2] - first[1, 0], side / 300, rtol=1e-6)
    np.testing.assert_allclose((first[2, 2] - first[2, 0]) / (first[2, 3] - first[2, 1]), 2,
                               rtol=1e-5)
    np.testing.assert_allclose(y[0, 1, :8], [0.1, 0.1, 0.2, 0.2] * 2, rtol=1e-6)


def test_prior_box_bad_params():
    with pytest.raises(ConfigError, match="positive 'min_size'"):
        make_layer("PriorBox", {}, [np.zeros((1, 1, 2, 2))] * 2)
    with pytest.raises(ConfigError, match="each larger"):
        make_layer("PriorBox", {"min_size": [30.0], "max_size": [20.0]},
                   [np.zeros((1, 1, 2, 2))] * 2)
    with pytest.raises(ConfigError, match="1 or 4"):
        make_layer("PriorBox", {"min_size": [30.0], "variance": [0.1, 0.2]},
                   [np.zeros((1, 1, 2, 2))] * 2)
    with pytest.raises(ConfigError, match="not both"):
        make_layer("PriorBox", {"min_size": [30.0], "step": 8, "step_h": 8, "step_w": 8},
                   [np.zeros((1, 1, 2, 2))] * 2)
