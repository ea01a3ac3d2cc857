"""DetectionOutput: SSD's inference head, as its Caffe layer. Bottoms: loc (N, P * L * 4)
offsets, conf (N, P * num_classes) class probabilities (after a Softmax), prior (1, 2, P * 4)
from PriorBox; L = 1 with share_location, else num_classes. Forward only.

1. Decode each offset t against its prior box (variance v, or 1 with
   variance_encoded_in_target):
     CENTER_SIZE: centre = prior centre + v01 t01 prior size; size = prior size exp(v23 t23)
     CORNER:      corner = prior corner + v t;    CORNER_SIZE: the same, t scaled by size
2. Per image and class (the background class skipped): the boxes whose score is above
   confidence_threshold, best first (at most nms_param.top_k), greedy NMS: a box is kept
   unless its IoU with a kept box exceeds nms_threshold (adapted by eta as SSD).
3. If more than keep_top_k survive in an image, the keep_top_k best over all classes.
4. Top (1, 1, D, 7): rows [image, label, score, xmin, ymin, xmax, ymax], by image, then
   ascending label, then score; if nothing is detected at all, one row [i, -1 x 6] per image.

Ties in score keep their prior order (a stable sort; Caffe's keep_top_k sort is unstable).

    - {name: detection_out, type: DetectionOutput, bottom: [mbox_loc, mbox_conf_flatten,
       mbox_priorbox], top: detection_out, include: {phase: TEST}, num_classes: 21,
       share_location: true, background_label_id: 0, nms_param: {nms_threshold: 0.45,
       top_k: 100}, code_type: CENTER_SIZE, keep_top_k: 100, confidence_threshold: 0.25}
"""
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..kernels.cpu.detection_output import decode_boxes, select_detections, write_detections
from ..layer import Layer
from ..registry import register_layer

CODES = {"CORNER": 0, "CENTER_SIZE": 1, "CORNER_SIZE": 2}


@dataclass
class NMSParams:
    nms_threshold: float = 0.3
    top_k: int | None = None
    eta: float = 1.0

    def __post_init__(self):
        if self.nms_threshold < 0 or not 0 < self.eta <= 1:
            raise ValueError("nms_param: nms_threshold must be >= 0 and eta in (0, 1], got "
                             f"{self.nms_threshold} and {self.eta}")


@register_layer("DetectionOutput")
class DetectionOutput(Layer):
    @dataclass
    class Params:
        num_classes: int | None = None
        share_location: bool = True
        background_label_id: int = 0
        nms_param: NMSParams = field(default_factory=NMSParams)
        confidence_threshold: float | None = None
        keep_top_k: int = -1
        code_type: Literal["CORNER", "CENTER_SIZE", "CORNER_SIZE"] = "CORNER"
        variance_encoded_in_target: bool = False

        def __post_init__(self):
            if self.num_classes is None or self.num_classes < 1:
                raise ValueError(f"DetectionOutput needs 'num_classes' >= 1, got "
                                 f"{self.num_classes}")

    num_bottom = 3

    def can_backprop(self, bottom_index):
        return False

    def setup(self, bottom, top):
        self.num_loc = 1 if self.p.share_location else self.p.num_classes
        self._shape = None

    def reshape(self, bottom, top):
        loc, conf, prior = bottom
        if prior.ndim != 3 or prior.shape[:2] != (1, 2) or prior.shape[2] % 4:
            raise self.shape_error(f"prior '{prior.name}' {list(prior.shape)} must be "
                                   "(1, 2, P * 4) from PriorBox")
        p_, c_ = prior.shape[2] // 4, self.p.num_classes
        n = loc.shape[0]
        if loc.count != n * p_ * self.num_loc * 4:
            raise self.shape_error(f"loc '{loc.name}' {list(loc.shape)} must hold {p_} priors "
                                   f"x {self.num_loc} x 4 offsets per image")
        if conf.shape[0] != n or conf.count != n * p_ * c_:
            raise self.shape_error(f"conf '{conf.name}' {list(conf.shape)} must hold {p_} "
                                   f"priors x {c_} classes per image, for {n} images")
        shape = (n, p_, c_)
        if shape != self._shape:
            self._shape = shape
            self._boxes = np.zeros((n, self.num_loc, p_, 4), self.dtype)
            self._cand = np.zeros(p_, np.int64)
            self._keep = np.zeros((c_, p_), np.int64)
            self._counts = np.zeros(c_, np.int64)
            self._sel_label = np.zeros((n, c_ * p_), np.int64)
            self._sel_idx = np.zeros((n, c_ * p_), np.int64)
            self._n_sel = np.zeros(n, np.int64)
        top[0].reshape((1, 1, 1, 7))          # the real row count is known after forward

    def forward_cpu(self, bottom, top):
        loc, conf, prior = bottom
        n, p_, c_ = self._shape
        priors = prior.data.reshape(2, p_, 4)
        decode_boxes(loc.data.reshape(n, p_, self.num_loc, 4), priors[0], priors[1],
                     CODES[self.p.code_type], self.p.variance_encoded_in_target, self._boxes)
        scores = conf.data.reshape(n, p_, c_)
        nms = self.p.nms_param
        threshold = (self.p.confidence_threshold if self.p.confidence_threshold is not None
                     else -np.finfo(np.float32).max)
        select_detections(self._boxes, scores, self.p.share_location,
                          self.p.background_label_id, threshold, nms.nms_threshold, nms.eta,
                          -1 if nms.top_k is None else nms.top_k, self.p.keep_top_k,
                          self._cand, self._keep, self._counts, self._sel_label,
                          self._sel_idx, self._n_sel)
        rows = int(self._n_sel.sum()) or n
        top[0].reshape((1, 1, rows, 7))
        write_detections(self._boxes, scores, self.p.share_location, self._sel_label,
                         self._sel_idx, self._n_sel, top[0].data.reshape(rows, 7))

    def backward_cpu(self, top, propagate_down, bottom):
        """Inference only: no gradient."""
