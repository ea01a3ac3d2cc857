"""PReLU: y = max(x, 0) + a_c * min(x, 0), with a learnable slope a_c per channel (axis 1),
or one slope for all channels with `channel_shared: true` (He et al. 2015, Caffe's PReLU).
Gradients: dx = dy * (x > 0 ? 1 : a_c); da_c = sum over n and the spatial axes of
dy * x * (x <= 0) (added into the slope's diff).

params: `channel_shared` (default false), `filler` (default constant 0.25). The slope blob
has shape (C,), or () when shared, as Caffe's. Runs in place (it then keeps a copy of x).

    - {name: prelu1, type: PReLU, bottom: conv1, top: conv1}
    - {name: prelu2, type: PReLU, bottom: ip1, top: ip1, channel_shared: true}
"""
from dataclasses import dataclass, field

import numpy as np

from ..fillers import FillerSpec
from ..kernels.cpu.prelu import (prelu_backward, prelu_backward_inplace, prelu_forward,
                                 prelu_forward_inplace)
from ..layer import Layer
from ..registry import register_layer


@register_layer("PReLU")
class PReLU(Layer):
    @dataclass
    class Params:
        channel_shared: bool = False
        filler: FillerSpec = field(default_factory=lambda: FillerSpec("constant", value=0.25))

    in_place = True

    def setup(self, bottom, top):
        if len(bottom[0].shape) < 2:
            raise self.shape_error(f"bottom '{bottom[0].name}' of shape "
                                   f"{list(bottom[0].shape)} needs at least 2 axes (N, C, ...)")
        self.add_param(() if self.p.channel_shared else (bottom[0].shape[1],), self.p.filler)
        self.saved = np.zeros(0, self.dtype)

    def reshape(self, bottom, top):
        shape = bottom[0].shape
        if len(shape) < 2 or (not self.p.channel_shared and shape[1] != self.blobs[0].count):
            raise self.shape_error(f"bottom '{bottom[0].name}' of shape {list(shape)} does not "
                                   f"have the {self.blobs[0].count} channels of the slopes")
        self.view = (shape[0], shape[1], int(np.prod(shape[2:], dtype=np.int64)))
        top[0].reshape(shape)
        if top[0] is bottom[0] and self.saved.size != bottom[0].count:
            self.saved = np.zeros(bottom[0].count, self.dtype)
            if self.device is not None:               # the input, kept on the device
                self.saved_gpu = self.device.zeros(bottom[0].count, self.dtype)

    def forward_cpu(self, bottom, top):
        slope = self.blobs[0].data.reshape(-1)
        x = bottom[0].data.reshape(self.view)
        if top[0] is bottom[0]:
            prelu_forward_inplace(x, slope, self.saved.reshape(self.view))
        else:
            prelu_forward(x, slope, top[0].data.reshape(self.view))

    def backward_cpu(self, top, propagate_down, bottom):
        slope, dslope = self.blobs[0].data.reshape(-1), self.blobs[0].diff.reshape(-1)
        if top[0] is bottom[0]:
            prelu_backward_inplace(self.saved.reshape(self.view), top[0].diff.reshape(self.view),
                                   slope, dslope, bool(propagate_down[0]))
        else:
            prelu_backward(bottom[0].data.reshape(self.view), top[0].diff.reshape(self.view),
                           slope, dslope, bottom[0].diff.reshape(self.view),
                           bool(propagate_down[0]))

    def forward_gpu(self, bottom, top):
        k = self.device.kernels("prelu")
        slope = self.blobs[0].gpu_data.reshape(self.blobs[0].count)
        if top[0] is bottom[0]:
            k.prelu_forward_inplace(top[0].mutable_gpu_data.reshape(self.view), slope,
                                    self.saved_gpu.reshape(self.view))
        else:
            k.prelu_forward(bottom[0].gpu_data.reshape(self.view), slope,
                            top[0].mutable_gpu_data.reshape(self.view))

    def backward_gpu(self, top, propagate_down, bottom):
        k = self.device.kernels("prelu")
        c = self.blobs[0].count
        slope, dslope = self.blobs[0].gpu_data.reshape(c), self.blobs[0].mutable_gpu_diff.reshape(c)
        if top[0] is bottom[0]:
            k.prelu_backward_inplace(self.saved_gpu.reshape(self.view),
                                     bottom[0].mutable_gpu_diff.reshape(self.view), slope, dslope,
                                     bool(propagate_down[0]))
        else:
            k.prelu_backward(bottom[0].gpu_data.reshape(self.view),
                             top[0].gpu_diff.reshape(self.view), slope, dslope,
                             bottom[0].mutable_gpu_diff.reshape(self.view),
                             bool(propagate_down[0]))

    def to_onnx(self, g, x, y, bottom, top):
        slope = self.blobs[0].cpu_data.reshape(-1)     # broadcast over axis 1
        shape = (1,) if self.p.channel_shared else (slope.size,) + (1,) * (bottom[0].ndim - 2)
        g.node("PRelu", [x[0], g.const(f"{self.name}_slope", slope.reshape(shape))], y,
               self.name)
