"""LSTM unit kernels (Caffe's LSTMUnit), the CUDA twins of kernels/cpu/lstm.py: one time
step of N streams with H cells, gate pre-activations in Caffe's order (i, f, o, g) as
(N, 4H) rows; i, f, o = sigmoid, g = tanh; c_t = cont f c_{t-1} + i g, h_t = o tanh(c_t), and
back (see the CPU module). One thread per (stream, cell), the CPU loop's expressions (its
float64 literals promote the gate math to float64); results stored in the data's dtype."""
import math

from numba import cuda

from .launch import grid


@cuda.jit
def _forward(pre, c_prev, cont, gates, c, tanh_c, h):
    N, H = c.shape
    e = cuda.grid(1)
    while e < c.size:
        n = e // H
        j = e % H
        k = cont[n]
        i = 1.0 / (1.0 + math.exp(-pre[n, j]))
        f = 1.0 / (1.0 + math.exp(-pre[n, H + j]))
        o = 1.0 / (1.0 + math.exp(-pre[n, 2 * H + j]))
        g = math.tanh(pre[n, 3 * H + j])
        gates[n, j] = i
        gates[n, H + j] = f
        gates[n, 2 * H + j] = o
        gates[n, 3 * H + j] = g
        cv = k * f * c_prev[n, j] + i * g
        tc = math.tanh(cv)
        c[n, j] = cv
        tanh_c[n, j] = tc
        h[n, j] = o * tc
        e += cuda.gridsize(1)


@cuda.jit
def _backward(dh, dc, gates, c_prev, tanh_c, cont, dpre, dc_prev):
    N, H = dh.shape
    e = cuda.grid(1)
    while e < dh.size:
        n = e // H
        j = e % H
        k = cont[n]
        i = gates[n, j]
        f = gates[n, H + j]
        o = gates[n, 2 * H + j]
        g = gates[n, 3 * H + j]
        tc = tanh_c[n, j]
        d = dc[n, j] + dh[n, j] * o * (1.0 - tc * tc)
        dpre[n, j] = d * g * i * (1.0 - i)
        dpre[n, H + j] = d * k * c_prev[n, j] * f * (1.0 - f)
        dpre[n, 2 * H + j] = dh[n, j] * tc * o * (1.0 - o)
        dpre[n, 3 * H + j] = d * i * (1.0 - g * g)
        dc_prev[n, j] = d * k * f
        e += cuda.gridsize(1)


def lstm_unit_forward(pre, c_prev, cont, gates, c, tanh_c, h):
    """gates (N, 4H) = activated `pre`; c, tanh_c, h (N, H) of this step."""
    _forward[grid(c.size)](pre, c_prev, cont, gates, c, tanh_c, h)


def lstm_unit_backward(dh, dc, gates, c_prev, tanh_c, cont, dpre, dc_prev):
    """dpre (N, 4H) and dc_prev (N, H) written; `dc` is the gradient reaching c_t."""
    _backward[grid(dh.size)](dh, dc, gates, c_prev, tanh_c, cont, dpre, dc_prev)
