"""What Caffe's recurrent layers (LSTM, RNN) share: the params, the bottoms and the state.

Bottoms, Caffe's layout: x (T, N, ...) (T time steps of N independent streams; the trailing
axes flatten to D features) and cont (T, N), the sequence-continuation indicators: cont[t, n]
= 0 starts a new sequence in stream n at step t (the hidden state before it is dropped), 1
continues it. By default the state after the last step of one forward is the state before
the first step of the next (Caffe's RecurrentLayer: sequences may run over several batches,
and a 0 in cont[0] cuts them); no gradient flows into that carried state (truncated
backpropagation through time), and none into cont. The layer unrolls the T steps itself (no
sub-net): one matrix product for the input part of all steps, one per step for the
recurrent part, and one for each weight gradient over all steps.

A third bottom x_static (N, ...) is Caffe's static input: the same features for every step
of a stream, entering every step's input through its own weight (no bias), placed after the
input weight and bias in the blob order, as Caffe's unrolled net creates it.

With `expose_hidden: true` (Caffe's), the initial state comes from the last bottoms (h_0,
and c_0 for LSTM, each (1, N, H)) instead of the carried one, and the final state goes to
extra tops (h_T, and c_T for LSTM, (1, N, H)); gradients flow through both.

Params (Caffe's RecurrentParameter): num_output (the hidden size H), weight_filler,
bias_filler, expose_hidden; debug_info is accepted and ignored.
"""
from dataclasses import dataclass, field

import numpy as np

from ..config.schema import bounded
from ..fillers import FillerSpec
from ..kernels.cpu.threads import matmul
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


def _flat(a):
    """The flat view (the split kernels index flat, on the host and the device alike)."""
    return a.reshape(a.size)


class Recurrent(Layer):
    """Base of LSTM and RNN: checks the bottoms, sizes the state, carries it over."""
    Params = RecurrentParams
    num_bottom = (2, 5)
    num_top = (1, 3)
    state_names = ("h",)
    device_buffers = ()     # host buffers (from `buffers`) the GPU passes mirror on the device

    def can_backprop(self, bottom_index):
        return bottom_index != 1          # Caffe: no gradient to the sequence indicators

    def param_shapes(self, d, h):
        """[(shape, filler)] of the learnable blobs, in Caffe's order, without the static
        input's weight (inserted at index 2)."""
        raise NotImplementedError

    def setup(self, bottom, top):
        states = len(self.state_names)
        exposed = states if self.p.expose_hidden else 0
        if len(bottom) not in (2 + exposed, 3 + exposed) or len(top) != 1 + exposed:
            states_in = ", ".join(f"{s}_0" for s in self.state_names)
            states_out = ", ".join(f"{s}_T" for s in self.state_names)
            want = (f"bottoms x, cont[, x_static], {states_in} and tops out, {states_out}"
                    if exposed else "bottoms x, cont[, x_static] and one top")
            raise self.shape_error(f"{self.type_name} with expose_hidden: "
                                   f"{self.p.expose_hidden} takes {want}; got {len(bottom)} "
                                   f"bottoms and {len(top)} tops")
        self.static = len(bottom) - exposed == 3
        self.state_bottoms = list(range(len(bottom) - exposed, len(bottom)))
        self._check(bottom)
        h = self.p.num_output
        self.input_dim = int(np.prod(bottom[0].shape[2:], dtype=np.int64))
        shapes = self.param_shapes(self.input_dim, h)
        if self.static:
            self.static_dim = int(np.prod(bottom[2].shape[1:], dtype=np.int64))
            shapes.insert(2, ((shapes[0][0][0], self.static_dim), self.p.weight_filler))
        for shape, filler in shapes:
            self.add_param(shape, filler)
        self.k_rec = 3 if self.static else 2           # index of the recurrent weight
        self._dims = None

    def _check(self, bottom):
        x, cont = bottom[0].shape, bottom[1].shape
        if len(x) < 3:
            raise self.shape_error(f"bottom '{bottom[0].name}' must be (T, N, ...) with "
                                   f"features, got shape {list(x)}")
        if tuple(cont) != tuple(x[:2]):
            raise self.shape_error(f"the sequence indicators '{bottom[1].name}' must have "
                                   f"shape (T, N) = {list(x[:2])}, got {list(cont)}")
        if self.static and (len(bottom[2].shape) < 2 or bottom[2].shape[0] != x[1]):
            raise self.shape_error(f"the static input '{bottom[2].name}' must be (N, ...) "
                                   f"with N = {x[1]}, got {list(bottom[2].shape)}")
        want = (1, x[1], self.p.num_output)
        for i in self.state_bottoms:
            if tuple(bottom[i].shape) != want:
                raise self.shape_error(f"the initial state '{bottom[i].name}' must have "
                                       f"shape {list(want)}, got {list(bottom[i].shape)}")

    def reshape(self, bottom, top):
        self._check(bottom)
        t, n = bottom[0].shape[:2]
        d = int(np.prod(bottom[0].shape[2:], dtype=np.int64))
        if d != self.input_dim:
            raise self.shape_error(f"bottom '{bottom[0].name}' has {d} features per step, "
                                   f"the weights expect {self.input_dim}")
        if self.static and bottom[2].count // n != self.static_dim:
            raise self.shape_error(f"the static input '{bottom[2].name}' has "
                                   f"{bottom[2].count // n} features, the weights expect "
                                   f"{self.static_dim}")
        h = self.p.num_output
        top[0].reshape((t, n, h))
        for extra in top[1:]:
            extra.reshape((1, n, h))
        if self._dims == (t, n):
            return
        if self._dims is None or self._dims[1] != n:
            self.last = {s: np.zeros((n, h), self.dtype) for s in self.state_names}
            self.init = {s: np.zeros((n, h), self.dtype) for s in self.state_names}
            if self.device is not None:           # the state, on the device in CUDA mode
                self.last_gpu = {s: self._device_like(a) for s, a in self.last.items()}
                self.init_gpu = {s: self._device_like(a) for s, a in self.init.items()}
        self._dims = (t, n)
        self.buffers(t, n, d, h)
        if self.static:
            width = self.blobs[2].shape[0]
            self._static_in = np.zeros((n, width), self.dtype)
            self._static_sum = np.zeros((n, width), self.dtype)
            self._dws = np.zeros(self.blobs[2].shape, self.dtype)
        if self.device is not None:
            names = self.device_buffers + (("_static_in", "_static_sum") if self.static else ())
            self.gpu_buf = {name: self._device_like(getattr(self, name)) for name in names}

    def buffers(self, t, n, d, h):
        """Size the per-shape buffers (called from reshape when T or N changes)."""
        raise NotImplementedError

    def _device_like(self, a):
        return self.device.zeros(a.size, a.dtype).reshape(a.shape)

    # -- the state ---------------------------------------------------------------------------
    def begin_state(self, bottom):
        """Fill self.init (name -> (N, H)): the exposed bottoms, or the carried state."""
        n = self._dims[1]
        for k, s in enumerate(self.state_names):
            if self.state_bottoms:
                self.init[s][...] = bottom[self.state_bottoms[k]].data.reshape(n, -1)
            else:
                self.init[s][...] = self.last[s]

    def end_state(self, top, finals):
        """The final state (name -> (N, H)) to the exposed tops, or kept for the next batch."""
        for k, s in enumerate(self.state_names):
            if self.state_bottoms:
                top[1 + k].data.reshape(finals[s].shape)[...] = finals[s]
            else:
                self.last[s][...] = finals[s]

    def final_state_diff(self, top, name, out):
        """out (N, H) = the gradient reaching the final state `name` (0 unless exposed)."""
        if self.state_bottoms:
            out[...] = top[1 + self.state_names.index(name)].diff.reshape(out.shape)
        else:
            out[...] = 0

    def initial_state_diff(self, bottom, propagate_down, name, grad):
        """Write the gradient `grad` (N, H) of the initial state `name` to its bottom."""
        if self.state_bottoms:
            i = self.state_bottoms[self.state_names.index(name)]
            if propagate_down[i]:
                bottom[i].diff.reshape(grad.shape)[...] = grad

    def reset_state(self):
        """Zero the state carried over to the next forward."""
        for s in getattr(self, "last", {}).values():
            s[...] = 0
        for s in getattr(self, "last_gpu", {}).values():
            self.device.fill_zero(s.reshape(s.size))

    # -- the static input --------------------------------------------------------------------
    def add_static(self, bottom, pre):
        """pre (T, N, W) += W_static x_static, the same for every step."""
        if self.static:
            n = self._dims[1]
            matmul(bottom[2].data.reshape(n, -1), self.blobs[2].data.T, self._static_in)
            np.add(pre, self._static_in, out=pre)

    def static_backward(self, bottom, dpre, propagate_down):
        """The static weight's gradient (added) and the static input's (written), from the
        gradients dpre (T, N, W) of every step's input."""
        if self.static:
            n = self._dims[1]
            np.sum(dpre, axis=0, out=self._static_sum)
            matmul(self._static_sum.T, bottom[2].data.reshape(n, -1), self._dws)
            self.blobs[2].diff[...] += self._dws
            if propagate_down[2]:
                matmul(self._static_sum, self.blobs[2].data, bottom[2].diff.reshape(n, -1))

    # -- the GPU twins of the state and static-input steps -------------------------------------
    def begin_state_gpu(self, bottom):
        n = self._dims[1]
        for k, s in enumerate(self.state_names):
            src = (bottom[self.state_bottoms[k]].gpu_data.reshape(n, -1) if self.state_bottoms
                   else self.last_gpu[s])
            self.device.copy(src, self.init_gpu[s])

    def end_state_gpu(self, top, finals):
        for k, s in enumerate(self.state_names):
            dst = (top[1 + k].mutable_gpu_data.reshape(finals[s].shape) if self.state_bottoms
                   else self.last_gpu[s])
            self.device.copy(finals[s], dst)

    def final_state_diff_gpu(self, top, name, out):
        if self.state_bottoms:
            self.device.copy(top[1 + self.state_names.index(name)].gpu_diff.reshape(out.shape),
                             out)
        else:
            self.device.fill_zero(out.reshape(out.size))

    def initial_state_diff_gpu(self, bottom, propagate_down, name, grad):
        if self.state_bottoms:
            i = self.state_bottoms[self.state_names.index(name)]
            if propagate_down[i]:
                self.device.copy(grad, bottom[i].mutable_gpu_diff.reshape(grad.shape))

    def add_static_gpu(self, bottom, pre):
        """pre (T, N, W) += W_static x_static on the device."""
        if self.static:
            n = self._dims[1]
            k = self.device.kernels("split")
            static_in = self.gpu_buf["_static_in"]
            self.device.kernels("gemm").gemm(bottom[2].gpu_data.reshape(n, -1),
                                             self.blobs[2].gpu_data, static_in, trans_b=True)
            for t in range(pre.shape[0]):
                k.sum_into(_flat(pre[t]), _flat(static_in), _flat(pre[t]))

    def static_backward_gpu(self, bottom, dpre, propagate_down):
        if self.static:
            n = self._dims[1]
            gemm, split = self.device.kernels("gemm"), self.device.kernels("split")
            total = self.gpu_buf["_static_sum"]
            self.device.copy(dpre[0], total)
            for t in range(1, dpre.shape[0]):
                split.sum_into(_flat(total), _flat(dpre[t]), _flat(total))
            ws = self.blobs[2]
            gemm.gemm(total, bottom[2].gpu_data.reshape(n, -1), ws.mutable_gpu_diff,
                      trans_a=True, beta=1.0)
            if propagate_down[2]:
                gemm.gemm(total, ws.gpu_data, bottom[2].mutable_gpu_diff.reshape(n, -1))
