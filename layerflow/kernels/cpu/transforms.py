"""Per-pixel kernels of the data transforms, over (N, C, H, W) batches.

Random choices (offsets, flips, angles, boxes, factors) are drawn by the caller from the
layer's generator and passed in per sample, so the kernels are deterministic. Every kernel
releases the GIL (`nogil=True`) so that the prefetch thread runs beside the net."""
import math

from numba import njit


@njit(cache=True, nogil=True)
def crop_mirror(src, offsets, flips, dst):
    """dst[n] = src[n, :, y:y+h, x:x+w] with (y, x) = offsets[n], mirrored along W where
    flips[n]; dst (N, C, h, w)."""
    num, channels, h, w = dst.shape
    for n in range(num):
        y0 = offsets[n, 0]
        x0 = offsets[n, 1]
        flip = flips[n] != 0
        for c in range(channels):
            for y in range(h):
                for x in range(w):
                    sx = x0 + (w - 1 - x if flip else x)
                    dst[n, c, y, x] = src[n, c, y0 + y, sx]


@njit(cache=True, nogil=True)
def _bilinear(src, n, c, sy, sx):
    """src[n, c] sampled at (sy, sx) (pixel centres at integers), 0 outside the image."""
    height = src.shape[2]
    width = src.shape[3]
    y0 = math.floor(sy)
    x0 = math.floor(sx)
    fy = sy - y0
    fx = sx - x0
    total = 0.0
    for dy in range(2):
        yy = y0 + dy
        if yy < 0 or yy >= height:
            continue
        wy = fy if dy == 1 else 1.0 - fy
        for dx in range(2):
            xx = x0 + dx
            if xx < 0 or xx >= width:
                continue
            wx = fx if dx == 1 else 1.0 - fx
            total += wy * wx * src[n, c, yy, xx]
    return total


@njit(cache=True, nogil=True)
def _sample(src, n, dst, y, x, sy, sx):
    """dst[n, :, y, x] = src[n] at (sy, sx), bilinear; a fast path when all four
    neighbours are inside, `_bilinear` (zero outside) at the border."""
    height = src.shape[2]
    width = src.shape[3]
    y0 = int(math.floor(sy))
    x0 = int(math.floor(sx))
    if y0 >= 0 and x0 >= 0 and y0 + 1 < height and x0 + 1 < width:
        fy = sy - y0
        fx = sx - x0
        w00 = (1.0 - fy) * (1.0 - fx)
        w01 = (1.0 - fy) * fx
        w10 = fy * (1.0 - fx)
        w11 = fy * fx
        for c in range(src.shape[1]):
            dst[n, c, y, x] = (w00 * src[n, c, y0, x0] + w01 * src[n, c, y0, x0 + 1]
                               + w10 * src[n, c, y0 + 1, x0] + w11 * src[n, c, y0 + 1, x0 + 1])
    else:
        for c in range(src.shape[1]):
            dst[n, c, y, x] = _bilinear(src, n, c, sy, sx)


@njit(cache=True, nogil=True)
def rotate_bilinear(src, angles, dst):
    """dst[n] = src[n] rotated by angles[n] degrees (counter-clockwise) about its centre,
    bilinear, 0 where the rotated image does not reach. dst has src's shape."""
    num, channels, height, width = src.shape
    cy = (height - 1) * 0.5
    cx = (width - 1) * 0.5
    for n in range(num):
        a = angles[n] * math.pi / 180.0
        ca = math.cos(a)
        sa = math.sin(a)
        for y in range(height):
            for x in range(width):
                # inverse map: the source point that lands on (y, x)
                sx = ca * (x - cx) - sa * (y - cy) + cx
                sy = sa * (x - cx) + ca * (y - cy) + cy
                _sample(src, n, dst, y, x, sy, sx)


@njit(cache=True, nogil=True)
def resized_crop_boxes(u, height, width, scale_lo, scale_hi, logr_lo, logr_hi, boxes):
    """Boxes (y0, x0, h, w) of random area fraction and aspect ratio from uniforms u (N, 4):
    area ~ U(scale_lo, scale_hi) * H * W, log(w / h) ~ U(logr_lo, logr_hi), clipped to the
    image, placed uniformly."""
    for n in range(u.shape[0]):
        area = (scale_lo + (scale_hi - scale_lo) * u[n, 0]) * height * width
        ratio = math.exp(logr_lo + (logr_hi - logr_lo) * u[n, 1])
        w = min(math.sqrt(area * ratio), float(width))
        h = min(math.sqrt(area / ratio), float(height))
        boxes[n, 0] = (height - h) * u[n, 2]
        boxes[n, 1] = (width - w) * u[n, 3]
        boxes[n, 2] = h
        boxes[n, 3] = w


@njit(cache=True, nogil=True)
def resized_crop_bilinear(src, boxes, dst):
    """dst[n] = the box (y0, x0, h, w) = boxes[n] of src[n] resized to dst's H x W, bilinear
    (half-pixel centres, edges clamped)."""
    num, channels, out_h, out_w = dst.shape
    height = src.shape[2]
    width = src.shape[3]
    for n in range(num):
        y0, x0, bh, bw = boxes[n, 0], boxes[n, 1], boxes[n, 2], boxes[n, 3]
        for y in range(out_h):
            sy = y0 + (y + 0.5) * bh / out_h - 0.5
            sy = min(max(sy, 0.0), height - 1.0)
            for x in range(out_w):
                sx = x0 + (x + 0.5) * bw / out_w - 0.5
                sx = min(max(sx, 0.0), width - 1.0)
                _sample(src, n, dst, y, x, sy, sx)


@njit(cache=True, nogil=True)
def subtract_channel_mean(x, mean):
    """x[n, c] -= mean[c], in place; x (N, C, S) with S the pixels of one channel."""
    num, channels, size = x.shape
    for n in range(num):
        for c in range(channels):
            m = mean[c]
            for p in range(size):
                x[n, c, p] -= m


@njit(cache=True, nogil=True)
def subtract_mean_image(x, mean):
    """x[n] -= mean, in place; x (N, D), mean (D,)."""
    num, size = x.shape
    for n in range(num):
        for p in range(size):
            x[n, p] -= mean[p]


@njit(cache=True, nogil=True)
def scale_inplace(x, scale):
    """x *= scale, in place; x (N, D)."""
    num, size = x.shape
    for n in range(num):
        for p in range(size):
            x[n, p] *= scale


@njit(cache=True, nogil=True)
def color_jitter(x, factors):
    """In place, per image n with factors[n] = (brightness b, contrast c, saturation s):
    x = x * b; x = mean + (x - mean) * c with mean the image's grey mean; for 3 channels
    x = grey + (x - grey) * s per pixel, grey = 0.299 R + 0.587 G + 0.114 B (channels taken
    as R, G, B)."""
    num, channels, size = x.shape
    for n in range(num):
        b = factors[n, 0]
        cf = factors[n, 1]
        sf = factors[n, 2]
        total = 0.0
        for c in range(channels):
            for p in range(size):
                x[n, c, p] *= b
                total += x[n, c, p]
        mean = total / (channels * size)
        for c in range(channels):
            for p in range(size):
                x[n, c, p] = mean + (x[n, c, p] - mean) * cf
        if channels == 3 and sf != 1.0:
            for p in range(size):
                grey = 0.299 * x[n, 0, p] + 0.587 * x[n, 1, p] + 0.114 * x[n, 2, p]
                for c in range(3):
                    x[n, c, p] = grey + (x[n, c, p] - grey) * sf
