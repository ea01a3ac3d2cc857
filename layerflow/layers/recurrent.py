"""What Caffe's recurrent layers (LSTM, RNN) share: the params, the bottoms and the state.

Bottoms, Caffe's layout: x (T, N, ...) (T time steps of N independent streams; the trailing
axes flatten to D features) and cont (T, N), the sequence-continuation indicators: cont[t, n]
= 0 starts a new sequence in stream n at step t (the hidden state before it is dropped), 1
continues it. The state after the last step of one forward is the state before the first
step of the next (Caffe's RecurrentLayer: sequences may run over several batches, and a 0 in
cont[0] cuts them); no gradient flows into that carried state (truncated backpropagation
through time), and none into cont. The layer unrolls the T steps itself (no sub-net): one
matrix product for the input part of all steps, one per step for the recurrent part, and
one for each weight gradient over all steps.

Params (Caffe's RecurrentParameter): num_output (the hidden size H), weight_filler,
bias_filler; debug_info is accepted and ignored; expose_hidden and a static input (a third
bottom) are not supported yet and say so.
"""
from dataclasses import dataclass, field

import numpy as np

from ..config.schema import bounded
from ..fillers import FillerSpec
from ..layer import Layer


@dataclass
class RecurrentParams:
    num_output: int = bounded(0, lo=1)
    weight_filler: FillerSpec = field(default_factory=FillerSpec)
    bias_filler: FillerSpec = field(default_factory=FillerSpec)
    debug_info: bool = False
    expose_hidden: bool = False

    def __post_init__(self):
        if self.num_output < 1:
            raise ValueError("'num_output' (the hidden size) must be >= 1")
        if self.expose_hidden:
            raise ValueError("expose_hidden is not supported yet (the state carries over "
                             "between batches; cont = 0 resets it)")


class Recurrent(Layer):
    """Base of LSTM and RNN: checks the bottoms, sizes the state, carries it over."""
    Params = RecurrentParams
    num_bottom = 2
    num_top = 1
    state_names = ("h",)

    def can_backprop(self, bottom_index):
        return bottom_index == 0          # Caffe: no gradient to the sequence indicators

    def param_shapes(self, d, h):
        """[(shape, filler)] of the learnable blobs, in Caffe's order."""
        raise NotImplementedError

    def setup(self, bottom, top):
        self._check(bottom)
        h = self.p.num_output
        self.input_dim = int(np.prod(bottom[0].shape[2:], dtype=np.int64))
        for shape, filler in self.param_shapes(self.input_dim, h):
            self.add_param(shape, filler)
        self._dims = None

    def _check(self, bottom):
        x, cont = bottom[0].shape, bottom[1].shape
        if len(x) < 3:
            raise self.shape_error(f"bottom '{bottom[0].name}' must be (T, N, ...) with "
                                   f"features, got shape {list(x)}")
        if tuple(cont) != tuple(x[:2]):
            raise self.shape_error(f"the sequence indicators '{bottom[1].name}' must have "
                                   f"shape (T, N) = {list(x[:2])}, got {list(cont)}")

    def reshape(self, bottom, top):
        self._check(bottom)
        t, n = bottom[0].shape[:2]
        d = int(np.prod(bottom[0].shape[2:], dtype=np.int64))
        if d != self.input_dim:
            raise self.shape_error(f"bottom '{bottom[0].name}' has {d} features per step, "
                                   f"the weights expect {self.input_dim}")
        h = self.p.num_output
        top[0].reshape((t, n, h))
        if self._dims == (t, n):
            return
        if self._dims is None or self._dims[1] != n:
            self.last = {s: np.zeros((n, h), self.dtype) for s in self.state_names}
            self.init = {s: np.zeros((n, h), self.dtype) for s in self.state_names}
        self._dims = (t, n)
        self.buffers(t, n, d, h)

    def buffers(self, t, n, d, h):
        """Size the per-shape buffers (called from reshape when T or N changes)."""
        raise NotImplementedError

    def reset_state(self):
        """Zero the state carried over to the next forward."""
        for s in getattr(self, "last", {}).values():
            s[...] = 0
