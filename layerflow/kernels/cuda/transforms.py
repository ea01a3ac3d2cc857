"""Per-pixel kernels of the data transforms over (N, C, H, W) device batches, the CUDA
twins of kernels/cpu/transforms.py (same arguments: the random choices are drawn by the
caller per sample and passed in, so the kernels are deterministic). The data layers run
the CPU ones in their prefetch thread, beside the net; these are for pipelines that keep
the raw batch on the device. Sums and interpolation weights are float64, as on the CPU.
`resized_crop_boxes` is per sample, not per pixel: it has no twin here."""
import math

import numpy as np
from numba import cuda, float64

from .launch import THREADS, grid

_R, _G, _B = np.float64(0.299), np.float64(0.587), np.float64(0.114)


@cuda.jit
def _crop_mirror(src, offsets, flips, dst):
    num, channels, h, w = dst.shape
    e = cuda.grid(1)
    while e < dst.size:
        n = e // (channels * h * w)
        c = (e // (h * w)) % channels
        y = (e // w) % h
        x = e % w
        sx = offsets[n, 1] + (w - 1 - x if flips[n] != 0 else x)
        dst[n, c, y, x] = src[n, c, offsets[n, 0] + y, sx]
        e += cuda.gridsize(1)


@cuda.jit(device=True, inline=True)
def _sample(src, n, c, sy, sx):
    """src[n, c] at (sy, sx), bilinear, 0 outside the image (the CPU's fast path and its
    border path give the same value: outside neighbours weigh 0 either way)."""
    height = src.shape[2]
    width = src.shape[3]
    y0 = int(math.floor(sy))
    x0 = int(math.floor(sx))
    fy = sy - y0
    fx = sx - x0
    total = float64(0)
    for dy in range(2):
        yy = y0 + dy
        if yy >= 0 and yy < height:
            wy = fy if dy == 1 else 1.0 - fy
            for dx in range(2):
                xx = x0 + dx
                if xx >= 0 and xx < width:
                    wx = fx if dx == 1 else 1.0 - fx
                    total += wy * wx * float64(src[n, c, yy, xx])
    return total


@cuda.jit
def _rotate(src, angles, dst):
    num, channels, height, width = src.shape
    cy = (height - 1) * 0.5
    cx = (width - 1) * 0.5
    e = cuda.grid(1)
    while e < dst.size:
        n = e // (channels * height * width)
        c = (e // (height * width)) % channels
        y = (e // width) % height
        x = e % width
        a = float64(angles[n]) * math.pi / 180.0
        ca = math.cos(a)
        sa = math.sin(a)
        sx = ca * (x - cx) - sa * (y - cy) + cx
        sy = sa * (x - cx) + ca * (y - cy) + cy
        dst[n, c, y, x] = _sample(src, n, c, sy, sx)
        e += cuda.gridsize(1)


@cuda.jit
def _resized_crop(src, boxes, dst):
    num, channels, out_h, out_w = dst.shape
    height = src.shape[2]
    width = src.shape[3]
    e = cuda.grid(1)
    while e < dst.size:
        n = e // (channels * out_h * out_w)
        c = (e // (out_h * out_w)) % channels
        y = (e // out_w) % out_h
        x = e % out_w
        sy = float64(boxes[n, 0]) + (y + 0.5) * boxes[n, 2] / out_h - 0.5
        sy = min(max(sy, 0.0), height - 1.0)
        sx = float64(boxes[n, 1]) + (x + 0.5) * boxes[n, 3] / out_w - 0.5
        sx = min(max(sx, 0.0), width - 1.0)
        dst[n, c, y, x] = _sample(src, n, c, sy, sx)
        e += cuda.gridsize(1)


@cuda.jit
def _subtract_channel_mean(x, mean):
    num, channels, size = x.shape
    e = cuda.grid(1)
    while e < x.size:
        c = (e // size) % channels
        x[e // (channels * size), c, e % size] -= mean[c]
        e += cuda.gridsize(1)


@cuda.jit
def _subtract_mean_image(x, mean):
    num, size = x.shape
    e = cuda.grid(1)
    while e < x.size:
        x[e // size, e % size] -= mean[e % size]
        e += cuda.gridsize(1)


@cuda.jit
def _scale(x, scale):
    e = cuda.grid(1)
    while e < x.size:
        x[e] *= scale
        e += cuda.gridsize(1)


@cuda.jit
def _color_jitter(x, factors):
    """One block per image: brightness and the image's sum, a barrier, then contrast and
    saturation per pixel."""
    num, channels, size = x.shape
    buf = cuda.shared.array(THREADS, float64)
    n = cuda.blockIdx.x
    t = cuda.threadIdx.x
    b = factors[n, 0]
    cf = factors[n, 1]
    sf = factors[n, 2]
    s = float64(0)
    e = t
    while e < channels * size:
        c = e // size
        p = e % size
        x[n, c, p] *= b
        s += x[n, c, p]
        e += THREADS
    buf[t] = s
    cuda.syncthreads()
    half = THREADS // 2
    while half > 0:
        if t < half:
            buf[t] += buf[t + half]
        cuda.syncthreads()
        half //= 2
    mean = buf[0] / (channels * size)
    p = t
    while p < size:
        for c in range(channels):
            x[n, c, p] = mean + (x[n, c, p] - mean) * cf
        if channels == 3 and sf != 1.0:
            grey = _R * x[n, 0, p] + _G * x[n, 1, p] + _B * x[n, 2, p]
            for c in range(3):
                x[n, c, p] = grey + (x[n, c, p] - grey) * sf
        p += THREADS


def crop_mirror(src, offsets, flips, dst):
    """dst[n] = src[n, :, y:y+h, x:x+w] with (y, x) = offsets[n], mirrored along W where
    flips[n]; dst (N, C, h, w)."""
    _crop_mirror[grid(dst.size)](src, offsets, flips, dst)


def rotate_bilinear(src, angles, dst):
    """dst[n] = src[n] rotated by angles[n] degrees (counter-clockwise) about its centre,
    bilinear, 0 where the rotated image does not reach."""
    _rotate[grid(dst.size)](src, angles, dst)


def resized_crop_bilinear(src, boxes, dst):
    """dst[n] = the box (y0, x0, h, w) = boxes[n] of src[n] resized to dst's H x W."""
    _resized_crop[grid(dst.size)](src, boxes, dst)


def subtract_channel_mean(x, mean):
    """x[n, c] -= mean[c], in place; x (N, C, S)."""
    _subtract_channel_mean[grid(x.size)](x, mean)


def subtract_mean_image(x, mean):
    """x[n] -= mean, in place; x (N, D), mean (D,)."""
    _subtract_mean_image[grid(x.size)](x, mean)


def scale_inplace(x, scale):
    """x *= scale, in place."""
    x = x.reshape(x.size)
    _scale[grid(x.size)](x, scale)


def color_jitter(x, factors):
    """In place, per image n with factors[n] = (brightness, contrast, saturation), as the
    CPU kernel; x (N, C, S)."""
    _color_jitter[x.shape[0], THREADS](x, factors)
