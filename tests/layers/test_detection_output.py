import numpy as np
import pytest

from layerflow.config import ConfigError
from layerflow.layer import ShapeError

from .harness import DTYPES, forward, make_layer

RNG = np.random.default_rng(0)


def decode(t, prior, var, code):
    """SSD's box decoding, from the paper (CENTER_SIZE) and SSD's bbox_util (CORNER)."""
    if code == "CENTER_SIZE":
        size = prior[:, 2:] - prior[:, :2]
        centre = (prior[:, 2:] + prior[:, :2]) / 2 + var[:, :2] * t[:, :2] * size
        size = size * np.exp(var[:, 2:] * t[:, 2:])
        return np.concatenate([centre - size / 2, centre + size / 2], 1)
    return prior + var * t


def iou(a, b):
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    area_a = max(a[2] - a[0], 0) * max(a[3] - a[1], 0)
    area_b = max(b[2] - b[0], 0) * max(b[3] - b[1], 0)
    return w * h / (area_a + area_b - w * h)


def reference(loc, conf, prior, num_classes, share, bg, thr, nms_thr, top_k, keep_top_k, code):
    n, p = conf.shape[0], prior.shape[2] // 4
    boxes, var = prior[0, 0].reshape(p, 4), prior[0, 1].reshape(p, 4)
    nl = 1 if share else num_classes
    loc = loc.reshape(n, p, nl, 4)
    conf = conf.reshape(n, p, num_classes)
    rows = []
    for i in range(n):
        dets = []                                       # (label, score, prior index, box)
        for c in range(num_classes):
            if c == bg:
                continue
            decoded = decode(loc[i, :, 0 if share else c], boxes, var, code)
            cand = [j for j in np.argsort(-conf[i, :, c], kind="stable") if conf[i, j, c] > thr]
            cand = cand[:top_k] if top_k is not None else cand
            kept = []
            for j in cand:
                if all(iou(decoded[j], decoded[k]) <= nms_thr for k in kept):
                    kept.append(j)
            dets += [(c, conf[i, j, c], j, decoded[j]) for j in kept]
        if keep_top_k > -1 and len(dets) > keep_top_k:
            best = sorted(range(len(dets)), key=lambda d: -dets[d][1])[:keep_top_k]
            dets = sorted([dets[d] for d in best], key=lambda d: d[0])   # stable: by label
        rows += [[i, c, s, *box] for c, s, _, box in dets]
    if not rows:
        rows = [[i] + [-1] * 6 for i in range(n)]
    return np.array(rows).reshape(1, 1, -1, 7)


def inputs(n, p, num_classes, share, dtype):
    centres = RNG.uniform(0.2, 0.8, size=(p, 2))
    sizes = RNG.uniform(0.1, 0.4, size=(p, 2))
    prior = np.stack([np.concatenate([centres - sizes / 2, centres + sizes / 2], 1).ravel(),
                      np.tile([0.1, 0.1, 0.2, 0.2], p)])[None]
    loc = RNG.normal(scale=0.5, size=(n, p * (1 if share else num_classes) * 4))
    logits = RNG.normal(scale=2, size=(n, p, num_classes))
    conf = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).reshape(n, -1)
    return [a.astype(dtype) for a in (loc, conf, prior)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("params", [
    {"num_classes": 4, "code_type": "CENTER_SIZE", "nms_param": {"nms_threshold": 0.45},
     "confidence_threshold": 0.2},
    {"num_classes": 3, "code_type": "CENTER_SIZE", "nms_param": {"nms_threshold": 0.3,
                                                                  "top_k": 5},
     "keep_top_k": 6, "confidence_threshold": 0.05},
    {"num_classes": 3, "share_location": False, "background_label_id": 2,
     "nms_param": {"nms_threshold": 0.5}, "confidence_threshold": 0.3},
    {"num_classes": 2, "code_type": "CORNER", "nms_param": {"nms_threshold": 0.2},
     "keep_top_k": 3},
])
def test_detection_output_matches_reference(dtype, params):
    share = params.get("share_location", True)
    loc, conf, prior = inputs(2, 30, params["num_classes"], share, dtype)
    layer, bottom, top = make_layer("DetectionOutput", params, [loc, conf, prior], dtype=dtype)
    (y,) = forward(layer, bottom, top)
    nms = params["nms_param"]
    ref = reference(loc.astype(np.float64), conf.astype(np.float64), prior.astype(np.float64),
                    params["num_classes"], share, params.get("background_label_id", 0),
                    params.get("confidence_threshold", -np.inf), nms["nms_threshold"],
                    nms.get("top_k"), params.get("keep_top_k", -1),
                    params.get("code_type", "CORNER"))
    assert y.shape == ref.shape and y.shape[2] > 1
    if params.get("keep_top_k", -1) > -1:
        assert y.shape[2] == 2 * params["keep_top_k"]        # the cut happened in both images
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)


def test_detection_output_suppresses_the_overlapping_box():
    prior = np.array([[[0.1, 0.1, 0.5, 0.5, 0.12, 0.1, 0.52, 0.5, 0.6, 0.6, 0.9, 0.9],
                       [0.1] * 12]])
    loc = np.zeros((1, 12))
    conf = np.array([[0.1, 0.9, 0.2, 0.8, 0.3, 0.7]])       # background, class 1 per prior
    layer, bottom, top = make_layer("DetectionOutput", {"num_classes": 2,
                                                        "nms_param": {"nms_threshold": 0.5}},
                                    [loc, conf, prior])
    (y,) = forward(layer, bottom, top)
    np.testing.assert_allclose(y[0, 0], [[0, 1, 0.9, 0.1, 0.1, 0.5, 0.5],
                                         [0, 1, 0.7, 0.6, 0.6, 0.9, 0.9]])


def test_detection_output_no_detection_rows():
    loc, conf, prior = inputs(3, 5, 2, True, np.float64)
    layer, bottom, top = make_layer("DetectionOutput", {"num_classes": 2,
                                                        "confidence_threshold": 1.5},
                                    [loc, conf, prior])
    (y,) = forward(layer, bottom, top)
    np.testing.assert_array_equal(y[0, 0], [[i, -1, -1, -1, -1, -1, -1] for i in range(3)])


def test_detection_output_errors():
    loc, conf, prior = inputs(1, 5, 3, True, np.float64)
    with pytest.raises(ConfigError, match="num_classes"):
        make_layer("DetectionOutput", {}, [loc, conf, prior])
    with pytest.raises(ShapeError, match="5 priors x 4 classes"):
        make_layer("DetectionOutput", {"num_classes": 4}, [loc, conf, prior])
