"""Accuracy: the fraction of positions whose label is among the `top_k` highest scores
along `axis` (positions labelled `ignore_label` are skipped). A position with a NaN score is
counted as wrong, never right. No gradient.

    - {name: accuracy, type: Accuracy, bottom: [ip2, label], top: accuracy,
       include: {phase: TEST}}
"""
from dataclasses import dataclass

from ..config.schema import bounded
from ..kernels.cpu.accuracy import topk_correct
from ..layer import Layer, split_shape
from ..registry import register_layer
from .softmax_with_loss import label_error


@register_layer("Accuracy")
class Accuracy(Layer):
    @dataclass
    class Params:
        top_k: int = bounded(1, lo=1)
        axis: int = 1
        ignore_label: int | None = None

    num_bottom = 2
    num_top = 1

    def can_backprop(self, bottom_index):
        return False

    def setup(self, bottom, top):
        self.label_name = bottom[1].name

    def reshape(self, bottom, top):
        try:
            self.dims = split_shape(bottom[0].shape, self.p.axis)
        except ValueError as exc:
            raise self.shape_error(f"bottom '{bottom[0].name}': {exc}") from None
        outer, channels, inner = self.dims
        if self.p.top_k > channels:
            raise self.shape_error(f"top_k {self.p.top_k} exceeds the {channels} classes of "
                                   f"'{bottom[0].name}'")
        if bottom[1].count != outer * inner:
            raise self.shape_error(
                f"label blob '{bottom[1].name}' of shape {list(bottom[1].shape)} must hold "
                f"{outer * inner} labels for scores of shape {list(bottom[0].shape)}")
        top[0].reshape(())

    def forward_cpu(self, bottom, top):
        ignore = self.p.ignore_label
        correct, counted = topk_correct(bottom[0].data.reshape(self.dims),
                                        bottom[1].data.reshape(-1), self.p.top_k,
                                        ignore if ignore is not None else 0, ignore is not None)
        if correct < 0:
            raise label_error(self, bottom[1].data, -1 - correct, self.dims[1])
        top[0].data[...] = correct / max(counted, 1)

    def backward_cpu(self, top, propagate_down, bottom):
        pass

    def forward_gpu(self, bottom, top):
        ignore = self.p.ignore_label
        correct, counted = self.device.kernels("accuracy").topk_correct(
            bottom[0].gpu_data.reshape(self.dims), bottom[1].gpu_data.reshape(bottom[1].count),
            self.p.top_k, ignore if ignore is not None else 0, ignore is not None)
        if correct < 0:
            raise label_error(self, bottom[1].cpu_data, -1 - correct, self.dims[1])
        top[0].data[...] = correct / max(counted, 1)

    def backward_gpu(self, top, propagate_down, bottom):
        pass
