"""LSTM (Caffe's): a long short-term memory over T steps of N streams, with sequence-
continuation indicators (layers/recurrent.py has the bottoms, the carried state, the
static input and expose_hidden).

Per step t, with h_c = cont_t * h_{t-1} (the state kept only inside a sequence):
    [i', f', o', g'] = W_xc x_t + b_c + W_hc h_c          (4H gate inputs, Caffe's order)
    i, f, o = sigmoid(i', f', o'),  g = tanh(g')
    c_t = cont_t * f * c_{t-1} + i * g,   h_t = o * tanh(c_t)   -> top[t] = h_t (T, N, H)
Gradient: back through the steps (kernels/cpu/lstm.py has the unit's), then
    dW_xc += dG^T X, db_c += sum dG, dW_hc += dG^T H_c, dx = dG W_xc (dG: all gate gradients).
Blobs, Caffe's order and layouts: W_xc (4H, D), b_c (4H,), W_hc (4H, H); with a static
input x_static (N, Ds) as third bottom, W_xc_static (4H, Ds) comes before W_hc and adds
W_xc_static x_static to every step's gate inputs.

    - {name: lstm1, type: LSTM, bottom: [x, cont], top: h, num_output: 64,
       weight_filler: {type: uniform, min: -0.08, max: 0.08}}
"""
import numpy as np

from ..kernels.cpu.lstm import lstm_unit_backward, lstm_unit_forward
from ..kernels.cpu.rnn import mask_rows
from ..kernels.cpu.threads import matmul
from ..registry import register_layer
from .recurrent import Recurrent, _flat


@register_layer("LSTM")
class LSTM(Recurrent):
    state_names = ("h", "c")
    device_buffers = ("pre", "gates", "c", "tanh_c", "hc", "_dh", "_dh_next", "_dc", "_dc_prev")

    def param_shapes(self, d, h):
        p = self.p
        return [((4 * h, d), p.weight_filler), ((4 * h,), p.bias_filler),
                ((4 * h, h), p.weight_filler)]

    def buffers(self, t, n, d, h):
        z = lambda *s: np.zeros(s, self.dtype)          # noqa: E731
        self.pre = z(t, n, 4 * h)        # gate inputs, then their gradients in backward
        self.gates = z(t, n, 4 * h)
        self.c, self.tanh_c, self.hc = z(t, n, h), z(t, n, h), z(t, n, h)
        self._rec = z(n, 4 * h)
        self._dh, self._dh_next, self._dc, self._dc_prev = z(n, h), z(n, h), z(n, h), z(n, h)
        self._dwx, self._dwh, self._db = z(4 * h, d), z(4 * h, h), z(4 * h)

    def forward_cpu(self, bottom, top):
        w_xc, b_c, w_hc = self.blobs[0].data, self.blobs[1].data, self.blobs[self.k_rec].data
        t_steps, n = self._dims
        x = bottom[0].data.reshape(t_steps * n, -1)
        cont = bottom[1].data
        h = top[0].data
        pre = self.pre.reshape(t_steps * n, -1)
        matmul(x, w_xc.T, pre)
        np.add(pre, b_c, out=pre)
        self.add_static(bottom, self.pre)
        self.begin_state(bottom)
        for t in range(t_steps):
            h_prev = h[t - 1] if t else self.init["h"]
            c_prev = self.c[t - 1] if t else self.init["c"]
            mask_rows(cont[t], h_prev, self.hc[t])
            matmul(self.hc[t], w_hc.T, self._rec)
            np.add(self.pre[t], self._rec, out=self.pre[t])
            lstm_unit_forward(self.pre[t], c_prev, cont[t], self.gates[t], self.c[t],
                              self.tanh_c[t], h[t])
        self.end_state(top, {"h": h[t_steps - 1], "c": self.c[t_steps - 1]})

    def backward_cpu(self, top, propagate_down, bottom):
        w_xc, w_hc = self.blobs[0].data, self.blobs[self.k_rec].data
        t_steps, n = self._dims
        cont = bottom[1].data
        dtop = top[0].diff
        dpre = self.pre                   # the gate inputs are not needed any more
        self.final_state_diff(top, "h", self._dh_next)
        self.final_state_diff(top, "c", self._dc)
        for t in range(t_steps - 1, -1, -1):
            c_prev = self.c[t - 1] if t else self.init["c"]
            np.add(dtop[t], self._dh_next, out=self._dh)
            lstm_unit_backward(self._dh, self._dc, self.gates[t], c_prev, self.tanh_c[t],
                               cont[t], dpre[t], self._dc_prev)
            matmul(dpre[t], w_hc, self._dh_next)
            mask_rows(cont[t], self._dh_next, self._dh_next)
            self._dc, self._dc_prev = self._dc_prev, self._dc
        self.initial_state_diff(bottom, propagate_down, "h", self._dh_next)
        self.initial_state_diff(bottom, propagate_down, "c", self._dc)
        self.static_backward(bottom, dpre, propagate_down)
        dg = dpre.reshape(t_steps * n, -1)
        x = bottom[0].data.reshape(t_steps * n, -1)
        matmul(dg.T, x, self._dwx)
        self.blobs[0].diff[...] += self._dwx
        np.sum(dg, axis=0, out=self._db)
        self.blobs[1].diff[...] += self._db
        matmul(dg.T, self.hc.reshape(t_steps * n, -1), self._dwh)
        self.blobs[self.k_rec].diff[...] += self._dwh
        if propagate_down[0]:
            matmul(dg, w_xc, bottom[0].diff.reshape(t_steps * n, -1))

    def forward_gpu(self, bottom, top):
        gemm, unit = self.device.kernels("gemm"), self.device.kernels("lstm")
        mask_rows_gpu = self.device.kernels("rnn").mask_rows
        g = self.gpu_buf
        t_steps, n = self._dims
        w_xc, w_hc = self.blobs[0].gpu_data, self.blobs[self.k_rec].gpu_data
        cont = bottom[1].gpu_data
        h = top[0].mutable_gpu_data
        pre = g["pre"].reshape(t_steps * n, -1)
        gemm.gemm(bottom[0].gpu_data.reshape(t_steps * n, -1), w_xc, pre, trans_b=True)
        self.device.kernels("scale").bias_forward_inplace(pre.reshape(t_steps * n, -1, 1),
                                                          self.blobs[1].gpu_data)
        self.add_static_gpu(bottom, g["pre"])
        self.begin_state_gpu(bottom)
        for t in range(t_steps):
            h_prev = h[t - 1] if t else self.init_gpu["h"]
            c_prev = g["c"][t - 1] if t else self.init_gpu["c"]
            mask_rows_gpu(cont[t], h_prev, g["hc"][t])
            gemm.gemm(g["hc"][t], w_hc, g["pre"][t], trans_b=True, beta=1.0)
            unit.lstm_unit_forward(g["pre"][t], c_prev, cont[t], g["gates"][t], g["c"][t],
                                   g["tanh_c"][t], h[t])
        self.end_state_gpu(top, {"h": h[t_steps - 1], "c": g["c"][t_steps - 1]})

    def backward_gpu(self, top, propagate_down, bottom):
        gemm, unit = self.device.kernels("gemm"), self.device.kernels("lstm")
        mask_rows_gpu = self.device.kernels("rnn").mask_rows
        sum_into = self.device.kernels("split").sum_into
        g = self.gpu_buf
        t_steps, n = self._dims
        w_xc, w_hc = self.blobs[0].gpu_data, self.blobs[self.k_rec].gpu_data
        cont = bottom[1].gpu_data
        dtop = top[0].gpu_diff
        dpre = g["pre"]                   # the gate inputs are not needed any more
        dh, dh_next, dc, dc_prev = g["_dh"], g["_dh_next"], g["_dc"], g["_dc_prev"]
        self.final_state_diff_gpu(top, "h", dh_next)
        self.final_state_diff_gpu(top, "c", dc)
        for t in range(t_steps - 1, -1, -1):
            c_prev = g["c"][t - 1] if t else self.init_gpu["c"]
            sum_into(_flat(dtop[t]), _flat(dh_next), _flat(dh))
            unit.lstm_unit_backward(dh, dc, g["gates"][t], c_prev, g["tanh_c"][t], cont[t],
                                    dpre[t], dc_prev)
            gemm.gemm(dpre[t], w_hc, dh_next)
            mask_rows_gpu(cont[t], dh_next, dh_next)
            dc, dc_prev = dc_prev, dc
        self.initial_state_diff_gpu(bottom, propagate_down, "h", dh_next)
        self.initial_state_diff_gpu(bottom, propagate_down, "c", dc)
        self.static_backward_gpu(bottom, dpre, propagate_down)
        dg = dpre.reshape(t_steps * n, -1)
        x = bottom[0].gpu_data.reshape(t_steps * n, -1)
        gemm.gemm(dg, x, self.blobs[0].mutable_gpu_diff, trans_a=True, beta=1.0)
        self.device.kernels("scale").bias_backward(dg.reshape(t_steps * n, -1, 1),
                                                   self.blobs[1].mutable_gpu_diff)
        gemm.gemm(dg, g["hc"].reshape(t_steps * n, -1), self.blobs[self.k_rec].mutable_gpu_diff,
                  trans_a=True, beta=1.0)
        if propagate_down[0]:
            gemm.gemm(dg, w_xc, bottom[0].mutable_gpu_diff.reshape(t_steps * n, -1))
