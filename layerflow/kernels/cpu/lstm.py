"""LSTM unit kernels (Caffe's LSTMUnit), one time step of N streams with H cells.

Gate pre-activations come in Caffe's order (i, f, o, g), as (N, 4H) rows:
    i, f, o = sigmoid(.), g = tanh(.)
    c_t = cont * f * c_{t-1} + i * g,   h_t = o * tanh(c_t)
and back, with dh and dc the gradients reaching h_t and c_t:
    dc' = dc + dh * o * (1 - tanh(c_t)^2)
    di = dc' g i (1 - i),  df = dc' cont c_{t-1} f (1 - f),  do = dh tanh(c_t) o (1 - o),
    dg = dc' i (1 - g^2),  dc_{t-1} = dc' cont f
Arrays are C-contiguous; `gates` keeps the activated gates for backward.
"""
import math

from numba import njit


@njit(cache=True)
def lstm_unit_forward(pre, c_prev, cont, gates, c, tanh_c, h):
    """gates (N, 4H) = activated `pre`; c, tanh_c, h (N, H) of this step."""
    N, H = c.shape
    for n in range(N):
        k = cont[n]
        for j in range(H):
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


@njit(cache=True)
def lstm_unit_backward(dh, dc, gates, c_prev, tanh_c, cont, dpre, dc_prev):
    """dpre (N, 4H): gradient of the gate pre-activations; dc_prev (N, H) written; `dc` is
    the gradient reaching c_t from step t + 1 (zeros at the last step)."""
    N, H = dh.shape
    for n in range(N):
        k = cont[n]
        for j in range(H):
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
