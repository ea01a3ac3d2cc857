"""ROIPooling: max pooling of each region of interest into a fixed pooled_h x pooled_w grid
(Fast R-CNN's Caffe layer). Bottoms: features x (N, C, H, W) and rois (R, 5), each row
[batch index, x1, y1, x2, y2] in input-image pixels; top (R, C, pooled_h, pooled_w).

    corners: round(coordinate * spatial_scale) (C's round, halves away from zero)
    size:    h = max(y2 - y1 + 1, 1), likewise w;  bin = h / pooled_h, w / pooled_w
    bin (i, j) covers rows [floor(i bin_h), ceil((i + 1) bin_h)) + y1 (clipped to the map),
             columns likewise; y = the maximum there (0 for a bin with no pixel)
    dx[b, c, p] = sum of dy over the bins whose maximum was at p; no gradient to the rois

The scaled corners and bin edges are rounded to the data's dtype at each step, as Caffe's
float (or double) arithmetic does, so float32 nets get Caffe's float32 bins exactly.

    - {name: roi_pool5, type: ROIPooling, bottom: [conv5_3, rois], top: pool5,
       pooled_h: 7, pooled_w: 7, spatial_scale: 0.0625}
"""
from dataclasses import dataclass

import numpy as np

from ..config.schema import bounded
from ..kernels.cpu.roi_pooling import roi_pool_backward, roi_pool_forward
from ..layer import Layer
from ..registry import register_layer


@register_layer("ROIPooling")
class ROIPooling(Layer):
    @dataclass
    class Params:
        pooled_h: int = bounded(1, lo=1)
        pooled_w: int = bounded(1, lo=1)
        spatial_scale: float = 1.0

    num_bottom = 2

    def can_backprop(self, bottom_index):
        return bottom_index == 0

    def setup(self, bottom, top):
        self._argmax = np.zeros((0, 0, 0, 0), np.int64)
        self._scale = self.dtype.type(self.p.spatial_scale)   # Caffe's float (or double)
        self._scratch = np.zeros(1, self.dtype)

    def reshape(self, bottom, top):
        x, rois = bottom
        if x.ndim != 4:
            raise self.shape_error(f"features '{x.name}' {list(x.shape)} must be (N, C, H, W)")
        if rois.ndim < 2 or rois.count != rois.shape[0] * 5:
            raise self.shape_error(f"rois '{rois.name}' {list(rois.shape)} must be (R, 5): "
                                   "[batch, x1, y1, x2, y2] per row")
        shape = (rois.shape[0], x.shape[1], self.p.pooled_h, self.p.pooled_w)
        top[0].reshape(shape)
        if self._argmax.shape != shape:
            self._argmax = np.zeros(shape, np.int64)
            if self.device is not None:               # where the maxima were, on the device
                self._argmax_gpu = self.device.zeros(self._argmax.size, np.int64).reshape(shape)

    def forward_cpu(self, bottom, top):
        x, rois = bottom
        bad = roi_pool_forward(x.data, rois.data.reshape(-1, 5), self._scale, top[0].data,
                               self._argmax, self._scratch)
        if bad >= 0:
            raise self.shape_error(f"rois '{rois.name}' row {bad} names batch index "
                                   f"{rois.data.reshape(-1, 5)[bad, 0]}, not a sample of "
                                   f"'{x.name}' (N = {x.shape[0]})")

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            x, rois = bottom
            roi_pool_backward(top[0].diff, rois.data.reshape(-1, 5), self._argmax,
                              x.diff.reshape(x.shape[0], x.shape[1], -1))

    def forward_gpu(self, bottom, top):
        x, rois = bottom
        bad = self.device.kernels("roi_pooling").roi_pool_forward(
            x.gpu_data, rois.gpu_data.reshape(rois.shape[0], 5), self._scale,
            top[0].mutable_gpu_data, self._argmax_gpu, self._scratch)   # one number back
        if bad >= 0:
            raise self.shape_error(f"rois '{rois.name}' row {bad} names batch index "
                                   f"{rois.cpu_data.reshape(-1, 5)[bad, 0]}, not a sample of "
                                   f"'{x.name}' (N = {x.shape[0]})")

    def backward_gpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            x, rois = bottom
            self.device.kernels("roi_pooling").roi_pool_backward(
                top[0].gpu_diff, rois.gpu_data.reshape(rois.shape[0], 5), self._argmax_gpu,
                x.mutable_gpu_diff.reshape(x.shape[0], x.shape[1], x.shape[2] * x.shape[3]))
