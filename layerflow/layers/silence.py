"""Silence: takes any number of bottoms and produces nothing, so that an unused top (a label
in a deploy net, a second output) is consumed and not printed as a net output (Caffe's layer).

    forward: nothing;   dx = 0 for every bottom asked to propagate.

    - {name: silence, type: Silence, bottom: [label, aux]}
"""
from dataclasses import dataclass

from ..layer import Layer
from ..registry import register_layer


@register_layer("Silence")
class Silence(Layer):
    @dataclass
    class Params:
        pass

    num_bottom = (1, None)
    num_top = 0

    def reshape(self, bottom, top):
        """No top to size."""

    def forward_cpu(self, bottom, top):
        """Nothing to compute."""

    def backward_cpu(self, top, propagate_down, bottom):
        for b, down in zip(bottom, propagate_down):
            if down:
                b.diff[...] = 0

    def forward_gpu(self, bottom, top):
        """Nothing to compute."""

    def backward_gpu(self, top, propagate_down, bottom):
        for b, down in zip(bottom, propagate_down):
            if down:
                self.device.fill_zero(b.mutable_gpu_diff.reshape(b.count))
