"""InfogainLoss: a softmax cross-entropy weighted by an information-gain matrix H (C x C),
Caffe's current form (it applies the softmax itself, along `axis`, as SoftmaxWithLoss does).

p = softmax(x) along `axis`; loss = -1/Z * sum over positions not labelled `ignore_label`
of sum_c H[l, c] * log max(p_c, 1e-20); with H the identity this is SoftmaxWithLoss.
Gradient: dx_c = loss_weight / Z * (p_c * sum_k H[l, k] - H[l, c]), 0 at ignored positions.
Z follows `normalization` as in SoftmaxWithLoss (default VALID; Caffe refuses the
deprecated `normalize` here, and so does layerflow). H is the third bottom (no gradient) or
read once from `source`: a .npy file, an .npz holding one array (or one named H), or a Caffe
.binaryproto BlobProto. An optional second top holds p.

    - {name: loss, type: InfogainLoss, bottom: [ip2, label], top: loss, source: H.binaryproto}
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ..blob import Blob
from ..data.protobuf import WireError, decode_blobproto
from ..kernels.cpu.infogain_loss import infogain_backward, infogain_forward
from ..kernels.cpu.softmax import softmax_forward
from ..layer import Layer, split_shape
from ..registry import register_layer
from .softmax_with_loss import NORMALIZATIONS, label_error, loss_normalizer


def load_infogain_matrix(path):
    """H from a .npy, an .npz (one array, or the one named H) or a Caffe .binaryproto."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"infogain matrix file '{path}' not found")
    try:
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                if len(z.files) == 1:
                    return z[z.files[0]]
                if "H" in z.files:
                    return z["H"]
                raise ValueError(f"holds {len(z.files)} arrays ({', '.join(z.files)}) and "
                                 "none named 'H'")
        return decode_blobproto(path.read_bytes())
    except (WireError, ValueError, OSError) as exc:
        raise ValueError(f"infogain matrix file '{path}' (.npy, .npz or Caffe .binaryproto): "
                         f"{exc}") from None


@register_layer("InfogainLoss")
class InfogainLoss(Layer):
    @dataclass
    class Params:
        source: str = ""
        axis: int = 1
        ignore_label: int | None = None
        normalization: Literal[NORMALIZATIONS] = "VALID"
        normalize: bool | None = None

        def __post_init__(self):
            if self.normalize is not None:
                raise ValueError("InfogainLoss: 'normalize' is deprecated (as in Caffe); use "
                                 "'normalization'")

    num_bottom = (2, 3)
    num_top = (1, 2)
    is_loss = True

    def can_backprop(self, bottom_index):
        return bottom_index == 0

    def setup(self, bottom, top):
        self.label_name = bottom[1].name
        self.prob = top[1] if len(top) > 1 else Blob((), self.dtype, name=f"{self.name}/prob",
                                                     device=self.device)
        self.h_file = None
        if len(bottom) < 3:
            if not self.p.source:
                raise self.shape_error("give the infogain matrix H as a third bottom or as "
                                       "'source' (a .npy, .npz or .binaryproto file)")
            try:
                self.h_file = np.ascontiguousarray(load_infogain_matrix(self.p.source),
                                                   self.dtype)
            except ValueError as exc:
                raise self.shape_error(str(exc)) from None
        self.row_sums = np.zeros(0, self.dtype)
        self.h_gpu = None

    def reshape(self, bottom, top):
        try:
            self.dims = split_shape(bottom[0].shape, self.p.axis)
        except ValueError as exc:
            raise self.shape_error(f"bottom '{bottom[0].name}': {exc}") from None
        outer, channels, inner = self.dims
        if bottom[1].count != outer * inner:
            raise self.shape_error(
                f"label blob '{bottom[1].name}' of shape {list(bottom[1].shape)} must hold "
                f"{outer * inner} labels for scores '{bottom[0].name}' of shape "
                f"{list(bottom[0].shape)}")
        h = self.h_file if len(bottom) < 3 else bottom[2].data
        where = f"source '{self.p.source}'" if len(bottom) < 3 else f"bottom '{bottom[2].name}'"
        if h.size != channels * channels:
            raise self.shape_error(f"infogain matrix ({where}) of shape {list(h.shape)} must "
                                   f"hold {channels} x {channels} values for the {channels} "
                                   f"classes of '{bottom[0].name}'")
        if self.row_sums.size != channels:
            self.row_sums = np.zeros(channels, self.dtype)
        if self.h_file is not None:
            self.h_file = self.h_file.reshape(channels, channels)
            np.sum(self.h_file, axis=1, out=self.row_sums)
        if self.device is not None and (self.h_gpu is None or self.h_gpu.size != channels ** 2):
            self.h_gpu = self.device.zeros(channels * channels, self.dtype)
            self.row_sums_gpu = self.device.zeros(channels, self.dtype)
            if self.h_file is not None:         # a matrix from a file goes up once
                self.device.upload(self.h_file.reshape(-1), self.h_gpu)
                self.device.upload(self.row_sums, self.row_sums_gpu)
        self.prob.reshape(bottom[0].shape)
        top[0].reshape(())

    def matrix(self, bottom):
        c = self.dims[1]
        return self.h_file if len(bottom) < 3 else bottom[2].data.reshape(c, c)

    def forward_cpu(self, bottom, top):
        prob = self.prob.data.reshape(self.dims)
        softmax_forward(bottom[0].data.reshape(self.dims), prob)
        ignore = self.p.ignore_label
        total, count = infogain_forward(prob, bottom[1].data.reshape(-1), self.matrix(bottom),
                                        ignore if ignore is not None else 0, ignore is not None)
        if count < 0:
            raise label_error(self, bottom[1].data, -1 - count, self.dims[1])
        self.z = loss_normalizer(self.p.normalization, self.dims[0], self.dims[2], count)
        top[0].data[...] = total / self.z

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        h = self.matrix(bottom)
        if len(bottom) > 2:
            np.sum(h, axis=1, out=self.row_sums)
        ignore = self.p.ignore_label
        infogain_backward(self.prob.data.reshape(self.dims), bottom[1].data.reshape(-1), h,
                          self.row_sums, ignore if ignore is not None else 0,
                          ignore is not None, self.dtype.type(float(top[0].diff) / self.z),
                          bottom[0].diff.reshape(self.dims))

    def gpu_matrix(self, bottom):
        c = self.dims[1]
        return (self.h_gpu if len(bottom) < 3 else bottom[2].gpu_data).reshape(c, c)

    def forward_gpu(self, bottom, top):
        prob = self.prob.mutable_gpu_data.reshape(self.dims)
        self.device.kernels("softmax").softmax_forward(bottom[0].gpu_data.reshape(self.dims), prob)
        ignore = self.p.ignore_label
        total, count = self.device.kernels("infogain_loss").infogain_forward(
            prob, bottom[1].gpu_data.reshape(bottom[1].count), self.gpu_matrix(bottom),
            ignore if ignore is not None else 0, ignore is not None)
        if count < 0:
            raise label_error(self, bottom[1].cpu_data, -1 - count, self.dims[1])
        self.z = loss_normalizer(self.p.normalization, self.dims[0], self.dims[2], count)
        top[0].data[...] = total / self.z               # the loss comes down

    def backward_gpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        if len(bottom) > 2:     # H as a bottom: its row sums on the host (C values go up)
            c = self.dims[1]
            np.sum(bottom[2].cpu_data.reshape(c, c), axis=1, out=self.row_sums)
            self.device.upload(self.row_sums, self.row_sums_gpu)
        ignore = self.p.ignore_label
        self.device.kernels("infogain_loss").infogain_backward(
            self.prob.gpu_data.reshape(self.dims), bottom[1].gpu_data.reshape(bottom[1].count),
            self.gpu_matrix(bottom), self.row_sums_gpu, ignore if ignore is not None else 0,
            ignore is not None, self.dtype.type(float(top[0].cpu_diff) / self.z),
            bottom[0].mutable_gpu_diff.reshape(self.dims))
