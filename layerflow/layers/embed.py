"""Embed: a learned lookup table (Caffe's layer; torch.nn.functional.embedding). The bottom
holds integer indices in [0, input_dim) as floats, of any shape S; the top is S + (num_output,).

    y[..., :] = W[x[...], :] + b            W: (input_dim, num_output), b: (num_output,)
    dW[k] += sum of dy over the positions with x == k;   db += sum of dy;   no gradient to x

`weight_filler` defaults to xavier (as InnerProduct here), `bias_filler` to constant 0; an
index outside [0, input_dim) is an error naming the bottom.

    - {name: embed, type: Embed, bottom: words, top: vectors, num_output: 64, input_dim: 10000}
"""
from dataclasses import dataclass, field

import numpy as np

from ..config.schema import bounded
from ..fillers import FillerSpec
from ..kernels.cpu.embed import embed_backward, embed_forward, first_bad_index
from ..layer import Layer
from ..registry import register_layer


@register_layer("Embed")
class Embed(Layer):
    @dataclass
    class Params:
        num_output: int = bounded(1, lo=1)
        input_dim: int = bounded(1, lo=1)
        bias_term: bool = True
        weight_filler: FillerSpec = field(default_factory=lambda: FillerSpec("xavier"))
        bias_filler: FillerSpec = field(default_factory=FillerSpec)

    def can_backprop(self, bottom_index):
        return False

    def setup(self, bottom, top):
        self.add_param((self.p.input_dim, self.p.num_output), self.p.weight_filler)
        if self.p.bias_term:
            self.add_param((self.p.num_output,), self.p.bias_filler)
        self._no_bias = np.zeros(self.p.num_output, self.dtype)

    def reshape(self, bottom, top):
        top[0].reshape(tuple(bottom[0].shape) + (self.p.num_output,))

    def forward_cpu(self, bottom, top):
        x = bottom[0].data.reshape(-1)
        bad = first_bad_index(x, self.p.input_dim)
        if bad >= 0:
            raise self.shape_error(f"bottom '{bottom[0].name}' holds {x[bad]} at flat position "
                                   f"{bad}, not an index in [0, input_dim = {self.p.input_dim})")
        bias = self.blobs[1].data if self.p.bias_term else self._no_bias
        embed_forward(x, self.blobs[0].data, bias, self.p.bias_term,
                      top[0].data.reshape(x.size, self.p.num_output))

    def backward_cpu(self, top, propagate_down, bottom):
        x = bottom[0].data.reshape(-1)
        dbias = self.blobs[1].diff if self.p.bias_term else self._no_bias
        embed_backward(x, top[0].diff.reshape(x.size, self.p.num_output), self.blobs[0].diff,
                       dbias, self.p.bias_term)

    def forward_gpu(self, bottom, top):
        k = self.device.kernels("embed")
        x = bottom[0].gpu_data.reshape(bottom[0].count)
        bad = k.first_bad_index(x, self.p.input_dim)        # one number comes back
        if bad >= 0:
            raise self.shape_error(f"bottom '{bottom[0].name}' holds "
                                   f"{bottom[0].cpu_data.reshape(-1)[bad]} at flat position "
                                   f"{bad}, not an index in [0, input_dim = {self.p.input_dim})")
        bias = self.blobs[1].gpu_data if self.p.bias_term else self.blobs[0].gpu_data[0]  # unread
        k.embed_forward(x, self.blobs[0].gpu_data, bias, self.p.bias_term,
                        top[0].mutable_gpu_data.reshape(x.size, self.p.num_output))

    def backward_gpu(self, top, propagate_down, bottom):
        x = bottom[0].gpu_data.reshape(bottom[0].count)
        w = self.blobs[0]
        dbias = self.blobs[1].mutable_gpu_diff if self.p.bias_term else w.gpu_diff[0]  # unwritten
        self.device.kernels("embed").embed_backward(
            x, top[0].gpu_diff.reshape(x.size, self.p.num_output), w.mutable_gpu_diff, dbias,
            self.p.bias_term)
