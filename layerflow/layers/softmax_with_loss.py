"""SoftmaxWithLoss: softmax along `axis`, then the mean negative log-likelihood of the labels.

loss = -1/Z * sum over positions of log max(p[label], FLT_MIN), where Z is set by
`normalization` (Caffe's: FULL = all positions, VALID = positions whose label is not
`ignore_label`, BATCH_SIZE = outer size, NONE = 1; Z is at least 1). Without
`normalization`, Caffe's older `normalize` decides (true: VALID, false: BATCH_SIZE); with
neither, VALID. Positions labelled `ignore_label` add nothing and get dx = 0. Gradient:
dx = loss_weight / Z * (p - onehot(label)). Labels never receive a gradient. An optional
second top holds the probabilities.

    - {name: loss, type: SoftmaxWithLoss, bottom: [ip2, label], top: loss}
"""
from dataclasses import dataclass
from typing import Literal

from ..blob import Blob
from ..kernels.cpu.softmax_loss import softmax_loss_backward, softmax_loss_forward
from ..layer import Layer, split_shape
from ..registry import register_layer


NORMALIZATIONS = ("FULL", "VALID", "BATCH_SIZE", "NONE")


def resolve_normalization(params, default):
    """Caffe's rule: `normalization` if given, else `normalize` (true: VALID, false:
    BATCH_SIZE), else the layer's default."""
    if params.normalization is not None:
        return params.normalization
    if params.normalize is not None:
        return "VALID" if params.normalize else "BATCH_SIZE"
    return default


def loss_normalizer(mode, outer, inner, valid):
    """Caffe's get_normalizer: the divisor of a summed loss, never below 1."""
    z = {"FULL": outer * inner, "VALID": valid, "BATCH_SIZE": outer, "NONE": 1}[mode]
    return max(float(z), 1.0)


def label_error(layer, labels, position, channels, ignorable=True):
    value = labels.reshape(-1)[position]
    tail = " and is not ignore_label" if ignorable else ""
    return ValueError(f"layer '{layer.name}': label {value:g} at position {position} of "
                      f"'{layer.label_name}' is outside [0, {channels}){tail}")


@register_layer("SoftmaxWithLoss")
class SoftmaxWithLoss(Layer):
    @dataclass
    class Params:
        axis: int = 1
        ignore_label: int | None = None
        normalization: Literal[NORMALIZATIONS] | None = None     # None: see `normalize`
        normalize: bool | None = None      # Caffe's older switch: false means BATCH_SIZE

    num_bottom = 2
    num_top = (1, 2)
    is_loss = True

    def can_backprop(self, bottom_index):
        return bottom_index == 0

    def setup(self, bottom, top):
        self.norm = resolve_normalization(self.p, "VALID")
        self.label_name = bottom[1].name
        self.prob = top[1] if len(top) > 1 else Blob((), self.dtype, name=f"{self.name}/prob",
                                                         device=self.device)

    def reshape(self, bottom, top):
        try:
            self.dims = split_shape(bottom[0].shape, self.p.axis)
        except ValueError as exc:
            raise self.shape_error(f"bottom '{bottom[0].name}': {exc}") from None
        outer, _, inner = self.dims
        if bottom[1].count != outer * inner:
            raise self.shape_error(
                f"label blob '{bottom[1].name}' of shape {list(bottom[1].shape)} must hold "
                f"{outer * inner} labels for scores '{bottom[0].name}' of shape "
                f"{list(bottom[0].shape)}")
        self.prob.reshape(bottom[0].shape)
        top[0].reshape(())

    def normalizer(self, valid):
        return loss_normalizer(self.norm, self.dims[0], self.dims[2], valid)

    def forward_cpu(self, bottom, top):
        ignore = self.p.ignore_label
        total, count = softmax_loss_forward(
            bottom[0].data.reshape(self.dims), bottom[1].data.reshape(-1),
            ignore if ignore is not None else 0, ignore is not None,
            self.prob.data.reshape(self.dims))
        if count < 0:
            raise label_error(self, bottom[1].data, -1 - count, self.dims[1])
        self.valid = count
        top[0].data[...] = total / self.normalizer(count)

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        ignore = self.p.ignore_label
        scale = float(top[0].diff) / self.normalizer(self.valid)
        softmax_loss_backward(self.prob.data.reshape(self.dims), bottom[1].data.reshape(-1),
                              ignore if ignore is not None else 0, ignore is not None, scale,
                              bottom[0].diff.reshape(self.dims))

    def forward_gpu(self, bottom, top):
        ignore = self.p.ignore_label
        total, count = self.device.kernels("softmax_loss").softmax_loss_forward(
            bottom[0].gpu_data.reshape(self.dims), bottom[1].gpu_data.reshape(bottom[1].count),
            ignore if ignore is not None else 0, ignore is not None,
            self.prob.mutable_gpu_data.reshape(self.dims))
        if count < 0:
            raise label_error(self, bottom[1].cpu_data, -1 - count, self.dims[1])
        self.valid = count
        top[0].data[...] = total / self.normalizer(count)      # the loss comes down

    def backward_gpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        ignore = self.p.ignore_label
        scale = float(top[0].cpu_diff) / self.normalizer(self.valid)
        self.device.kernels("softmax_loss").softmax_loss_backward(
            self.prob.gpu_data.reshape(self.dims), bottom[1].gpu_data.reshape(bottom[1].count),
            ignore if ignore is not None else 0, ignore is not None, scale,
            bottom[0].mutable_gpu_diff.reshape(self.dims))
