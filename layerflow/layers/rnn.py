"""RNN (Caffe's): an Elman recurrent net over T steps of N streams, with sequence-
continuation indicators (layers/recurrent.py has the bottoms, the carried state, the
static input and expose_hidden).

Per step t, with h_c = cont_t * h_{t-1}:
    h_t = tanh(W_xh x_t + b_h + W_hh h_c),   o_t = tanh(W_ho h_t + b_o)   -> top[t] = o_t
Gradient: dP_o = do (1 - o^2); dW_ho += dP_o^T H, db_o += sum dP_o; dh_t = dP_o W_ho +
cont_{t+1} dP_{t+1} W_hh back through the steps with dP_t = dh_t (1 - h_t^2); then
dW_xh += dP^T X, db_h += sum dP, dW_hh += dP^T H_c, dx = dP W_xh.
Blobs, Caffe's order and layouts: W_xh (H, D), b_h (H,), W_hh (H, H), W_ho (H, H), b_o (H,);
with a static input x_static (N, Ds) as third bottom, W_xh_static (H, Ds) comes before W_hh
and adds W_xh_static x_static to every step's hidden input.

    - {name: rnn1, type: RNN, bottom: [x, cont], top: o, num_output: 32,
       weight_filler: {type: uniform, min: -0.1, max: 0.1}}
"""
import numpy as np

from ..kernels.cpu.rnn import mask_rows, tanh_backward, tanh_forward
from ..kernels.cpu.threads import matmul
from ..registry import register_layer
from .recurrent import Recurrent, _flat


@register_layer("RNN")
class RNN(Recurrent):
    device_buffers = ("pre", "hs", "hc", "_dh", "_dh_next", "_dpo", "_dhs")
    def param_shapes(self, d, h):
        p = self.p
        return [((h, d), p.weight_filler), ((h,), p.bias_filler), ((h, h), p.weight_filler),
                ((h, h), p.weight_filler), ((h,), p.bias_filler)]

    def buffers(self, t, n, d, h):
        z = lambda *s: np.zeros(s, self.dtype)          # noqa: E731
        self.pre = z(t, n, h)            # hidden inputs, then their gradients in backward
        self.hs, self.hc = z(t, n, h), z(t, n, h)
        self._rec, self._dh, self._dh_next = z(n, h), z(n, h), z(n, h)
        self._dpo, self._dhs = z(t * n, h), z(t * n, h)
        self._dwx, self._dwh, self._db = z(h, d), z(h, h), z(h)

    def forward_cpu(self, bottom, top):
        k = self.k_rec
        w_xh, b_h = self.blobs[0].data, self.blobs[1].data
        w_hh, w_ho, b_o = (b.data for b in self.blobs[k:k + 3])
        t_steps, n = self._dims
        x = bottom[0].data.reshape(t_steps * n, -1)
        cont = bottom[1].data
        pre = self.pre.reshape(t_steps * n, -1)
        matmul(x, w_xh.T, pre)
        np.add(pre, b_h, out=pre)
        self.add_static(bottom, self.pre)
        self.begin_state(bottom)
        for t in range(t_steps):
            mask_rows(cont[t], self.hs[t - 1] if t else self.init["h"], self.hc[t])
            matmul(self.hc[t], w_hh.T, self._rec)
            np.add(self.pre[t], self._rec, out=self.pre[t])
            tanh_forward(self.pre[t], self.hs[t])
        self.end_state(top, {"h": self.hs[t_steps - 1]})
        o = top[0].data.reshape(t_steps * n, -1)
        matmul(self.hs.reshape(t_steps * n, -1), w_ho.T, o)
        np.add(o, b_o, out=o)
        tanh_forward(o, o)

    def backward_cpu(self, top, propagate_down, bottom):
        k = self.k_rec
        w_xh, w_hh, w_ho = self.blobs[0].data, self.blobs[k].data, self.blobs[k + 1].data
        t_steps, n = self._dims
        cont = bottom[1].data
        hs = self.hs.reshape(t_steps * n, -1)
        tanh_backward(top[0].diff.reshape(t_steps * n, -1), top[0].data.reshape(t_steps * n, -1),
                      self._dpo)
        matmul(self._dpo.T, hs, self._dwh)
        self.blobs[k + 1].diff[...] += self._dwh
        np.sum(self._dpo, axis=0, out=self._db)
        self.blobs[k + 2].diff[...] += self._db
        matmul(self._dpo, w_ho, self._dhs)
        dhs = self._dhs.reshape(t_steps, n, -1)
        dpre = self.pre
        self.final_state_diff(top, "h", self._dh_next)
        for t in range(t_steps - 1, -1, -1):
            np.add(dhs[t], self._dh_next, out=self._dh)
            tanh_backward(self._dh, self.hs[t], dpre[t])
            matmul(dpre[t], w_hh, self._dh_next)
            mask_rows(cont[t], self._dh_next, self._dh_next)
        self.initial_state_diff(bottom, propagate_down, "h", self._dh_next)
        self.static_backward(bottom, dpre, propagate_down)
        dp = dpre.reshape(t_steps * n, -1)
        x = bottom[0].data.reshape(t_steps * n, -1)
        matmul(dp.T, x, self._dwx)
        self.blobs[0].diff[...] += self._dwx
        np.sum(dp, axis=0, out=self._db)
        self.blobs[1].diff[...] += self._db
        matmul(dp.T, self.hc.reshape(t_steps * n, -1), self._dwh)
        self.blobs[k].diff[...] += self._dwh
        if propagate_down[0]:
            matmul(dp, w_xh, bottom[0].diff.reshape(t_steps * n, -1))

    def forward_gpu(self, bottom, top):
        gemm, rnn = self.device.kernels("gemm"), self.device.kernels("rnn")
        bias = self.device.kernels("scale").bias_forward_inplace
        g = self.gpu_buf
        k = self.k_rec
        w_xh, b_h = self.blobs[0].gpu_data, self.blobs[1].gpu_data
        w_hh, w_ho, b_o = (b.gpu_data for b in self.blobs[k:k + 3])
        t_steps, n = self._dims
        cont = bottom[1].gpu_data
        pre = g["pre"].reshape(t_steps * n, -1)
        gemm.gemm(bottom[0].gpu_data.reshape(t_steps * n, -1), w_xh, pre, trans_b=True)
        bias(pre.reshape(t_steps * n, -1, 1), b_h)
        self.add_static_gpu(bottom, g["pre"])
        self.begin_state_gpu(bottom)
        for t in range(t_steps):
            rnn.mask_rows(cont[t], g["hs"][t - 1] if t else self.init_gpu["h"], g["hc"][t])
            gemm.gemm(g["hc"][t], w_hh, g["pre"][t], trans_b=True, beta=1.0)
            rnn.tanh_forward(g["pre"][t], g["hs"][t])
        self.end_state_gpu(top, {"h": g["hs"][t_steps - 1]})
        o = top[0].mutable_gpu_data.reshape(t_steps * n, -1)
        gemm.gemm(g["hs"].reshape(t_steps * n, -1), w_ho, o, trans_b=True)
        bias(o.reshape(t_steps * n, -1, 1), b_o)
        rnn.tanh_forward(o, o)

    def backward_gpu(self, top, propagate_down, bottom):
        gemm, rnn = self.device.kernels("gemm"), self.device.kernels("rnn")
        bias_backward = self.device.kernels("scale").bias_backward
        sum_into = self.device.kernels("split").sum_into
        g = self.gpu_buf
        k = self.k_rec
        w_xh, w_hh, w_ho = (self.blobs[i].gpu_data for i in (0, k, k + 1))
        t_steps, n = self._dims
        cont = bottom[1].gpu_data
        hs = g["hs"].reshape(t_steps * n, -1)
        dpo = g["_dpo"]
        rnn.tanh_backward(top[0].gpu_diff.reshape(t_steps * n, -1),
                          top[0].gpu_data.reshape(t_steps * n, -1), dpo)
        gemm.gemm(dpo, hs, self.blobs[k + 1].mutable_gpu_diff, trans_a=True, beta=1.0)
        bias_backward(dpo.reshape(t_steps * n, -1, 1), self.blobs[k + 2].mutable_gpu_diff)
        gemm.gemm(dpo, w_ho, g["_dhs"])
        dhs = g["_dhs"].reshape(t_steps, n, -1)
        dpre = g["pre"]
        dh, dh_next = g["_dh"], g["_dh_next"]
        self.final_state_diff_gpu(top, "h", dh_next)
        for t in range(t_steps - 1, -1, -1):
            sum_into(_flat(dhs[t]), _flat(dh_next), _flat(dh))
            rnn.tanh_backward(dh, g["hs"][t], dpre[t])
            gemm.gemm(dpre[t], w_hh, dh_next)
            rnn.mask_rows(cont[t], dh_next, dh_next)
        self.initial_state_diff_gpu(bottom, propagate_down, "h", dh_next)
        self.static_backward_gpu(bottom, dpre, propagate_down)
        dp = dpre.reshape(t_steps * n, -1)
        x = bottom[0].gpu_data.reshape(t_steps * n, -1)
        gemm.gemm(dp, x, self.blobs[0].mutable_gpu_diff, trans_a=True, beta=1.0)
        bias_backward(dp.reshape(t_steps * n, -1, 1), self.blobs[1].mutable_gpu_diff)
        gemm.gemm(dp, g["hc"].reshape(t_steps * n, -1), self.blobs[k].mutable_gpu_diff,
                  trans_a=True, beta=1.0)
        if propagate_down[0]:
            gemm.gemm(dp, w_xh, bottom[0].mutable_gpu_diff.reshape(t_steps * n, -1))
