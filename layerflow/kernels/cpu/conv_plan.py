"""How a convolution runs on this CPU: the direct kernels' tile shapes and the data
gradient's way, or BLAS on the blobs (1x1) or im2col + BLAS, chosen per layer shape by
measuring, kept on disk.

A direct choice is three parts, each picked on its own (all write the same results):
  forward  (R, V): the register tile of the forward product (direct_conv.conv_forward)
  weight   (R, V): that of the weight gradient (conv_weight_grad)
  data     ("full" | "columns", R, V): the data gradient as a convolution of the padded dY
           (stride 1 only) or as W^T dY + col2im, with its tile
R x V tiles (rows x vectors) come from TILES for the CPU's vector ISA (isa.target()); each
keeps R V accumulators + V panel vectors + 1 broadcast within the register file
(isa.fits). Which one is fastest depends on the shape: the panel width V L pads the
channels (LeNet's 20 outputs take one 24-channel panel of 3 AVX2 vectors, or two of 16
with 2; ResNet's 16 one AVX-512 vector, or half of two), and the rows pad the pixels; so
each product only times the tiles that pad its panels least (`candidates`), the first of
them its default. A 1x1 layer without padding may instead run Pointwise (BLAS products
on the NCHW blobs), any layer im2col + BLAS.

`choose` times every candidate of each part once on the layer's shape, threads and dtype
on first use, like cuDNN's benchmark mode (a warm-up, then rounds that take each
candidate in turn, best of them, the tiles by process CPU time; random data, a few
images a thread; a candidate must beat the default by MARGIN), then the best direct
kernels against im2col + BLAS (and Pointwise), and keeps the winner in a JSON file per
CPU target under ~/.cache/layerflow/tuning (LAYERFLOW_TUNING_DIR, else
$XDG_CACHE_HOME/layerflow/tuning); later runs read it. LAYERFLOW_TUNE=0 turns the timing
off: every layer then gets `untuned_choice`, the same on every run (Pointwise for 1x1
layers, else each product's first candidate and the data gradient's way by a cost
model). Layers of under TUNE_FLOPS per product are not worth timing and get it too.
`describe(layer)` says what a layer runs.
"""
import dataclasses
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import direct_conv as dc
from .batch_norm import affine_relu_block
from .im2col import (add_channel_bias, channel_sum, col2im, im2col, nchw_to_rows_bias_grad,
                     rows_to_nchw)
from .isa import fits, target
from .threads import matmul, run_parallel

# Candidate tiles (rows, vectors) per ISA, in order of preference. AVX-512 and NEON have
# 32 registers, AVX2 and generic x86 16. AVX-512's one-vector tiles hold 16 float32
# channels a panel: ResNet's 16-channel stage wasted half the lanes of the 2-vector ones.
# 8x2 covers one row of 8 pixels (8x8 images) or half of 16 exactly, so that each tile's
# kernel-row span is exact (cifar10-quick's conv2 forward 5-7 % faster than 10x2).
# Dropped after reading their loops in inspect_asm: AVX-512's 14x2 (26 vector spills a
# step) and AVX2's 12x1 (22: without embedded broadcasts LLVM hoists all 12 broadcasts
# into registers before the FMAs); both lost every timing they were in.
TILES = {
    "avx512": [(10, 2), (6, 4), (8, 3), (16, 1), (12, 1), (8, 2)],
    "avx2": [(6, 2), (4, 3)],
    "neon": [(6, 4), (8, 3), (12, 2)],
    "generic": [(6, 2)],
}
CHUNK_BYTES = 1 << 20     # im2col: patches per thread chunk, about an L2 cache
KEEP_BYTES = 16 << 20     # im2col: training layers with at most this much patches keep them
COL2IM_ADD = 14           # the default's cost model: col2im's add (~0.17 ns an element, as
                          # masked vector adds) in lane products of the tile (~0.012 ns at
                          # 165 GFLOP/s), measured on LeNet's conv2
TUNE_FLOPS = 1e7          # products smaller than this take the default (not worth timing)
TUNE_IMAGES = 4           # images a thread in the timed runs of the tiles
ALGO_IMAGES = 16          # images a thread in those of direct against im2col
ROUNDS_SECONDS = 0.05     # timed rounds continue while they took less than this (s) ...
MAX_ROUNDS = 12           # ... up to this many
MARGIN = 0.05             # a candidate replaces the default only when this much faster
LANE_USE = 0.75           # candidates of a product: tiles whose panels use at least this
                          # share of the best tile's used lanes (the others pad more; at
                          # 0.9 LeNet's conv2, 50 channels, had only AVX2's 12x1 left,
                          # then a candidate, 2.5-5x slower than 6x2 there)
VERSION = 5               # of the cached choices: a new kernel set invalidates them


@dataclass(frozen=True)
class ConvShape:
    """One convolution's sizes: batch, channels, image, outputs, kernel, stride, pad,
    dilation, output image."""
    n: int
    c: int
    h: int
    w: int
    m: int
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int
    oh: int
    ow: int
    g: int = 1

    @property
    def flops(self):
        """Multiply-adds x 2 of one product (forward)."""
        return 2 * self.n * self.m * self.oh * self.ow * self.c * self.kh * self.kw // self.g

    def key(self, dtype, threads, bias):
        return (f"{np.dtype(dtype).name} n{self.n} c{self.c} {self.h}x{self.w} m{self.m} "
                f"k{self.kh}x{self.kw} s{self.sh}x{self.sw} p{self.ph}x{self.pw} "
                f"d{self.dh}x{self.dw} g{self.g} t{threads} b{int(bias)}")

    def full_pad(self):
        """dY's padding for the "full" data gradient, or None where it does not apply."""
        qh, qw = self.dh * (self.kh - 1) - self.ph, self.dw * (self.kw - 1) - self.pw
        if (self.sh, self.sw) != (1, 1) or qh < 0 or qw < 0:
            return None
        return qh, qw


def tiles():
    """The candidate tiles of this CPU target, in order of preference (only those that fit
    its register file, should TILES ever list one that does not)."""
    return [t for t in TILES[target().isa] if fits(*t)]


def lane_use(tile, dtype, count):
    """The share of a tile's panel lanes that hold one of `count` channels (or pixels):
    count over count rounded up to whole panels of V L."""
    width = dc.lanes_of(dtype, tile[1])
    return count / (-(-count // width) * width)


def candidates(dtype, count):
    """The tiles worth timing for a product whose panels hold `count` channels (or
    pixels): those whose lane use is within LANE_USE of the best, in TILES' order, so that
    the first is the default. 16 channels drop AVX-512's 2-, 3- and 4-vector tiles (half
    their lanes or more would be padding); 64 keep all but the 3-vector one."""
    ts = tiles()
    best = max(lane_use(t, dtype, count) for t in ts)
    return [t for t in ts if lane_use(t, dtype, count) >= LANE_USE * best]


def panel_counts(s):
    """What the panels of each product hold: forward and weight gradient output channels,
    the "full" data gradient input channels, the "columns" one output pixels."""
    return {"forward": s.m, "weight": s.m, "full": s.c, "columns": s.oh * s.ow}


def _each(parts, size, dtype):
    """One zeroed buffer per thread."""
    return [np.zeros(size, dtype) for _ in range(parts)]


class _Forward:
    """conv_forward's offsets and per-thread buffers for tile (R, V)."""

    def __init__(self, s, dtype, parts, tile):
        R, V = tile
        self.shape, self.vecs = dc.tile_shape(R, V), V
        lanes = dc.lanes_of(dtype, V)
        hp, wp = s.h + 2 * s.ph, s.w + 2 * s.pw
        self.offs = dc.tap_offsets(s.c, s.kh, s.kw, s.dh, s.dw, hp, wp, row_major=True)
        self.spans = dc.tap_spans(s.oh, s.ow, s.h, s.kh, s.sh, s.ph, s.dh, s.c * s.kw, R)
        self.rows = dc.pixel_offsets(s.oh, s.ow, wp, s.sh, s.sw, R)
        self.panels = np.zeros(-(-s.m // lanes) * self.offs.size * lanes, dtype)
        self.xpad = _each(parts, s.c * hp * wp, dtype)
        self.stage = _each(parts, self.rows.size * lanes, dtype)

    def prepare(self, w4):
        dc.panel_weights(w4, self.panels, self.vecs)

    def run(self, t, x, n0, n1, pads, bias, has_bias, y3, pixels=(0, -1)):
        dc.conv_forward(x, n0, n1, pads[0], pads[1], self.rows, self.offs, self.spans,
                        self.panels, bias, has_bias, self.xpad[t], self.stage[t], y3,
                        self.shape, *pixels)


class _WeightGrad:
    """conv_weight_grad's offsets and per-thread buffers (partial sums) for tile (R, V)."""

    def __init__(self, s, dtype, parts, tile):
        R, V = tile
        self.shape, self.vecs = dc.tile_shape(R, V), V
        lanes = dc.lanes_of(dtype, V)
        hp, wp = s.h + 2 * s.ph, s.w + 2 * s.pw
        self.taps = dc.pad_rows(dc.tap_offsets(s.c, s.kh, s.kw, s.dh, s.dw, hp, wp), R)
        group = dc.image_group(s.oh * s.ow)
        rows = dc.pixel_offsets(s.oh, s.ow, wp, s.sh, s.sw, 1)
        self.pixels = dc.group_offsets(rows, group, s.c * hp * wp)
        blocks = -(-s.m // lanes)
        self.k = s.c * s.kh * s.kw
        self.xpad = _each(parts, group * s.c * hp * wp, dtype)
        self.acc = _each(parts, R * lanes, dtype)
        self.dypanel = _each(parts, blocks * group * s.oh * s.ow * lanes, dtype)
        self.wsum = _each(parts, blocks * self.taps.size * lanes, dtype)
        self.bsum = _each(parts, s.m, dtype)

    def run(self, t, x, dy3, n0, n1, pads, has_bias):
        self.wsum[t][...] = 0
        self.bsum[t][...] = 0
        dc.conv_weight_grad(x, dy3, n0, n1, pads[0], pads[1], self.taps, self.pixels,
                            self.xpad[t], self.dypanel[t], self.acc[t], self.wsum[t],
                            self.bsum[t], has_bias, self.shape)

    def reduce(self, parts, wdiff2, bdiff, has_bias):
        for t in range(parts):
            dc.unpanel_add(self.wsum[t], self.k, wdiff2, self.vecs)
            if has_bias:
                np.add(bdiff, self.bsum[t], out=bdiff)


class _DataFull:
    """The data gradient as a stride-1 forward convolution of dY padded by d (k-1) - pad
    with the flipped weights (panels of input channels), tile (R, V)."""

    def __init__(self, s, dtype, parts, tile):
        R, V = tile
        self.shape, self.vecs = dc.tile_shape(R, V), V
        lanes = dc.lanes_of(dtype, V)
        qh, qw = self.pad = s.full_pad()
        hq, wq = s.oh + 2 * qh, s.ow + 2 * qw
        self.offs = dc.tap_offsets(s.m, s.kh, s.kw, s.dh, s.dw, hq, wq, row_major=True)
        self.spans = dc.tap_spans(s.h, s.w, s.oh, s.kh, 1, qh, s.dh, s.m * s.kw, R)
        self.rows = dc.pixel_offsets(s.h, s.w, wq, 1, 1, R)
        self.panels = np.zeros(-(-s.c // lanes) * self.offs.size * lanes, dtype)
        self.dypad = _each(parts, s.m * hq * wq, dtype)
        self.stage = _each(parts, self.rows.size * lanes, dtype)
        self.no_bias = np.zeros(1, dtype)

    def prepare(self, w4):
        dc.panel_weights_flipped(w4, self.panels, self.vecs)

    def run(self, t, dy, n0, n1, w4, dx):
        dc.conv_forward(dy, n0, n1, self.pad[0], self.pad[1], self.rows, self.offs,
                        self.spans, self.panels, self.no_bias, False, self.dypad[t],
                        self.stage[t], dx.reshape(dx.shape[0], dx.shape[1], -1), self.shape,
                        0, -1)


class _DataColumns:
    """The data gradient as dcol = W^T dY (panels of pixels), then col2im; any stride."""

    def __init__(self, s, dtype, parts, tile):
        R, V = tile
        self.s, self.shape = s, dc.tile_shape(R, V)
        lanes = dc.lanes_of(dtype, V)
        k, blocks = s.c * s.kh * s.kw, -(-s.oh * s.ow // lanes)
        self.taps = dc.pad_rows(np.arange(k, dtype=np.int64), R)
        self.channels = np.arange(s.m, dtype=np.int64) * k
        self.panel = _each(parts, blocks * s.m * lanes, dtype)
        self.columns = _each(parts, blocks * self.taps.size * lanes, dtype)

    def prepare(self, w4):
        pass

    def run(self, t, dy, n0, n1, w4, dx):
        s = self.s
        dc.conv_data_grad_columns(dy, n0, n1, w4.reshape(-1), self.taps, self.channels,
                                  s.kh, s.kw, s.sh, s.sw, s.ph, s.pw, s.dh, s.dw,
                                  self.panel[t], self.columns[t], dx, self.shape)


DATA_WAYS = {"full": _DataFull, "columns": _DataColumns}


class Im2col:
    """A convolution as im2col + one BLAS product per group (any group, as Caffe).

    Chunks of a few images whose patches fit in about an L2 cache (CHUNK_BYTES): im2col of
    the chunk, col (C kh kw, n OH OW), then Y = W_g @ col_g per group, moved into NCHW
    with the bias added in the same pass; the chunks are shared out among the threads
    (each with its own buffers). Gradients with dY as (M, n OH OW): dW_g += dY_g @
    col_g^T, db += sum over n and pixels of dy, dx = col2im(W_g^T @ dY_g); the patches
    are kept from forward when a training layer's total at most KEEP_BYTES, else
    recomputed per chunk as Caffe does."""
    def __init__(self, s, dtype, threads, training, batch=None, slabs=None):
        """batch: the layer's real batch when s is a cut one for timing (whether the
        patches are kept depends on it); slabs: see make."""
        self.s, self.dtype = s, np.dtype(dtype)
        self.choice = {"algorithm": "im2col"}
        self.geometry = (s.kh, s.kw, s.sh, s.sw, s.ph, s.pw, s.dh, s.dw, s.oh, s.ow)
        rows, pixels, n = s.c * s.kh * s.kw, s.oh * s.ow, s.n
        item = self.dtype.itemsize
        per = max(1, min(n, CHUNK_BYTES // max(rows * pixels * item, 1)))
        chunks = -(-n // per)
        self.parts = max(1, min(threads, chunks))
        self.split = (slabs or threads) if self.parts == 1 else 1   # one chunk: slabs
        chunks = -(-chunks // self.parts) * self.parts   # a multiple of the threads, and
        self.per = -(-n // chunks)                        # even chunks: balanced threads
        self.chunks = -(-n // self.per)
        m, width = s.m, self.per * pixels
        self.col = [np.empty(rows * width, dtype) for _ in range(self.parts)]
        self.y = [np.empty(m * width, dtype) for _ in range(self.parts)]
        self.rows, self.pixels = rows, pixels
        # Training nets whose patches are small keep every chunk's from forward for backward
        # (reading them back is cheaper than im2col again); large ones recompute, as Caffe.
        self.keep = (training and (batch or n) * rows * pixels * item <= KEEP_BYTES
                     and self.chunks > 1)
        self.kept = np.empty(self.chunks * rows * width, dtype) if self.keep else None
        wshape = (m, rows // s.g)
        self.wtmp = [np.empty(wshape, dtype) for _ in range(self.parts)]
        self.wsum = [np.empty(wshape, dtype) for _ in range(self.parts)]
        self.bsum = [np.empty(m, dtype) for _ in range(self.parts)]

    def forward(self, x, w4, bias, has_bias, y):
        s = self.s
        out = y.reshape(s.n, s.m, -1)
        w = w4.reshape(s.m, -1)
        mg, rg = s.m // s.g, self.rows // s.g

        def work(t):
            for i in range(t, self.chunks, self.parts):
                n0, n1, col, yc = self._chunk(t, i, self.keep)
                im2col(x[n0:n1], *self.geometry, col)
                self._gemm(w, col, yc, mg, rg)
                rows_to_nchw(yc, bias, has_bias, out[n0:n1])

        run_parallel(work, self.parts)

    def backward(self, x, dy, w4, data, dx, wdiff, bdiff, has_bias):
        s = self.s
        dy = dy.reshape(s.n, s.m, -1)
        w = w4.reshape(s.m, -1)
        g = s.g
        mg, rg = s.m // g, self.rows // g

        def work(t):
            wsum, bsum, wtmp = self.wsum[t], self.bsum[t], self.wtmp[t]
            wsum[...] = 0
            bsum[...] = 0
            for i in range(t, self.chunks, self.parts):
                n0, n1, col, dyr = self._chunk(t, i, self.keep)
                if not self.keep:
                    im2col(x[n0:n1], *self.geometry, col)      # recomputed, as Caffe does
                nchw_to_rows_bias_grad(dy[n0:n1], dyr, bsum, has_bias)
                for gi in range(g):                             # dW_g = dY_g @ col_g^T
                    matmul(dyr[gi * mg:(gi + 1) * mg], col[gi * rg:(gi + 1) * rg].T,
                           wtmp[gi * mg:(gi + 1) * mg], self.split)
                np.add(wsum, wtmp, out=wsum)
                if data:
                    dcol = self._chunk(t, i)[2] if self.keep else col
                    self._gemm(w, dyr, dcol, mg, mg, transpose_a=True)  # W_g^T dY_g
                    col2im(dcol, *self.geometry, dx[n0:n1])

        run_parallel(work, self.parts)
        wd = wdiff.reshape(s.m, -1)
        for t in range(self.parts):
            np.add(wd, self.wsum[t], out=wd)
            if has_bias:
                np.add(bdiff, self.bsum[t], out=bdiff)

    def _chunk(self, t, i, kept=False):
        """Images [n0, n1) of chunk i and contiguous (col, product) views: thread t's
        buffers, or with `kept` the patches forward kept for chunk i."""
        n0 = i * self.per
        n1 = min(n0 + self.per, self.s.n)
        width = (n1 - n0) * self.pixels
        size = self.rows * width
        if kept:
            start = i * self.rows * self.per * self.pixels
            col = self.kept[start:start + size].reshape(self.rows, width)
        else:
            col = self.col[t][:size].reshape(self.rows, width)
        y = self.y[t][:self.s.m * width].reshape(self.s.m, width)
        return n0, n1, col, y

    def _gemm(self, a, b, out, a_rows_per_group, b_rows_per_group, transpose_a=False):
        """out = a @ b per group (row blocks of a, b and out), each product cut into
        `split` slabs (threads.matmul) when one chunk is all the threads have."""
        g = self.s.g
        if g == 1:
            matmul(a.T if transpose_a else a, b, out, self.split)
            return
        ra, rb, ro = a_rows_per_group, b_rows_per_group, out.shape[0] // g
        for i in range(g):
            ai, bi = a[i * ra:(i + 1) * ra], b[i * rb:(i + 1) * rb]
            matmul(ai.T if transpose_a else ai, bi, out[i * ro:(i + 1) * ro], self.split)


class Pointwise:
    """A 1x1 convolution without padding as BLAS products straight on the NCHW blobs, per
    image: Y[n] (M, P) = W (M, C) @ X[n] (C, P), dW += dY[n] @ X[n]^T, dX[n] = W^T @ dY[n]
    (MobileNet's pointwise layers, ResNet's projection shortcuts). No im2col, no move into
    NCHW: X[n] is already the product's right factor (a strided layer first copies its
    every sh-th row and sw-th column out; its data gradient scatters back). Threads take
    ranges of images, each with its own partial sums; a batch smaller than the threads
    cuts each product into slabs instead (threads.matmul)."""

    def __init__(self, s, dtype, threads, slabs=None):
        self.s, self.choice = s, {"algorithm": "pointwise"}
        self.parts = max(1, min(threads, s.n))
        self.split = (slabs or threads) if s.n < threads else 1
        self.ranges = [(t * s.n // self.parts, (t + 1) * s.n // self.parts)
                       for t in range(self.parts)]
        self.strided = (s.sh, s.sw) != (1, 1)
        pixels = s.oh * s.ow
        self.sub = _each(self.parts, s.c * pixels if self.strided else 0, dtype)
        self.wsum = [np.zeros((s.m, s.c), dtype) for _ in range(self.parts)]
        self.wtmp = [np.zeros((s.m, s.c), dtype) for _ in range(self.parts)]
        self.bsum = _each(self.parts, s.m, dtype)

    def _at(self, t, x, n):
        """x[n] at the output pixels as (C, OH OW): a view, or (strided) thread t's copy."""
        s = self.s
        if not self.strided:
            return x[n].reshape(s.c, -1)
        sub = self.sub[t].reshape(s.c, s.oh, s.ow)
        np.copyto(sub, x[n, :, ::s.sh, ::s.sw][:, :s.oh, :s.ow])
        return self.sub[t].reshape(s.c, -1)

    def forward(self, x, w4, bias, has_bias, y, fold=None):
        """y = conv(x) (+ bias); with `fold` (a, b, relu, slope: BatchNorm.fold, the bias
        already in b) each slab of each image's product is folded by the thread that wrote
        it, while in cache."""
        s = self.s
        w, y3 = w4.reshape(s.m, s.c), y.reshape(s.n, s.m, -1)
        pixels = y3.shape[2]

        def work(t):
            n0, n1 = self.ranges[t]
            for n in range(n0, n1):
                then = None
                if fold is not None:
                    yf = y3[n].reshape(-1)
                    then = lambda r0, r1, c0, c1: affine_relu_block(  # noqa: E731
                        yf, pixels, r0, r1, c0, c1, *fold)
                matmul(w, self._at(t, x, n), y3[n], self.split, then)
            if has_bias and fold is None:
                add_channel_bias(y3[n0:n1], bias)

        run_parallel(work, self.parts)

    def backward(self, x, dy, w4, data, dx, wdiff, bdiff, has_bias):
        s = self.s
        w, dy3 = w4.reshape(s.m, s.c), dy.reshape(s.n, s.m, -1)

        def work(t):
            n0, n1 = self.ranges[t]
            wsum, wtmp, bsum = self.wsum[t], self.wtmp[t], self.bsum[t]
            wsum[...] = 0
            bsum[...] = 0
            for n in range(n0, n1):
                matmul(dy3[n], self._at(t, x, n).T, wtmp, self.split)
                np.add(wsum, wtmp, out=wsum)
                if data:
                    self._data_grad(t, w, dy3[n], dx[n])
            if has_bias:
                channel_sum(dy3[n0:n1], bsum)

        run_parallel(work, self.parts)
        wd = wdiff.reshape(s.m, s.c)
        for t in range(self.parts):
            np.add(wd, self.wsum[t], out=wd)
            if has_bias:
                np.add(bdiff, self.bsum[t], out=bdiff)

    def _data_grad(self, t, w, dy2, dxn):
        """dxn (C, H, W) = W^T dy2 at the output pixels, zero between them when strided."""
        s = self.s
        if not self.strided:
            matmul(w.T, dy2, dxn.reshape(s.c, -1), self.split)
            return
        sub = self.sub[t].reshape(s.c, -1)
        matmul(w.T, dy2, sub, self.split)
        dxn[...] = 0
        dxn[:, ::s.sh, ::s.sw][:, :s.oh, :s.ow] = sub.reshape(s.c, s.oh, s.ow)


class Direct:
    """A convolution by the direct kernels with one choice: each of `threads` threads
    takes a contiguous range of images, with its own buffers. A batch smaller than the
    threads (inference on one image) splits forward's output pixels among them instead:
    each thread pads the images itself and computes its own range of pixel tiles."""

    def __init__(self, s, dtype, threads, choice):
        self.s, self.choice = s, choice
        self.parts = max(1, min(threads, s.n))
        self.ranges = [(t * s.n // self.parts, (t + 1) * s.n // self.parts)
                       for t in range(self.parts)]
        R = choice["forward"][0]
        tiles = -(-s.oh * s.ow // R)
        self.pixel_parts = max(1, min(threads, tiles)) if s.n < threads else 1
        self.pixel_ranges = [(t * tiles // self.pixel_parts * R,
                              (t + 1) * tiles // self.pixel_parts * R)
                             for t in range(self.pixel_parts)]
        self.fwd = _Forward(s, dtype, max(self.parts, self.pixel_parts),
                            tuple(choice["forward"]))
        self.wgrad = _WeightGrad(s, dtype, self.parts, tuple(choice["weight"]))
        way, *tile = choice["data"]
        self.dgrad = DATA_WAYS[way](s, dtype, self.parts, tuple(tile))

    def forward(self, x, w4, bias, has_bias, y):
        """y (N, M, OH, OW) = conv(x) + bias."""
        y3 = y.reshape(self.s.n, self.s.m, -1)
        self.fwd.prepare(w4)
        pads = (self.s.ph, self.s.pw)
        if self.pixel_parts > 1:
            def work(t):
                self.fwd.run(t, x, 0, self.s.n, pads, bias, has_bias, y3,
                             self.pixel_ranges[t])
            run_parallel(work, self.pixel_parts)
            return

        def work(t):
            self.fwd.run(t, x, *self.ranges[t], pads, bias, has_bias, y3)

        run_parallel(work, self.parts)

    def backward(self, x, dy, w4, data, dx, wdiff, bdiff, has_bias):
        """wdiff += dL/dW, bdiff += dL/db; with `data`, dx = dL/dx (written)."""
        dy3 = dy.reshape(self.s.n, self.s.m, -1)
        if data:
            self.dgrad.prepare(w4)
        pads = (self.s.ph, self.s.pw)

        def work(t):
            n0, n1 = self.ranges[t]
            self.wgrad.run(t, x, dy3, n0, n1, pads, has_bias)
            if data:
                self.dgrad.run(t, dy, n0, n1, w4, dx)

        run_parallel(work, self.parts)
        self.wgrad.reduce(self.parts, wdiff.reshape(self.s.m, -1), bdiff, has_bias)


def pointwise_applies(s):
    """Whether Pointwise computes shape s: a 1x1 kernel, no padding, one group."""
    return (s.kh, s.kw, s.ph, s.pw, s.g) == (1, 1, 0, 0, 1)


def untuned_choice(s, dtype):
    """The choice without timing: Pointwise where it applies (BLAS on the blobs as they
    are), else default_choice."""
    return {"algorithm": "pointwise"} if pointwise_applies(s) else default_choice(s, dtype)


def default_choice(s, dtype):
    """The deterministic choice: for each product the first of its candidates (the
    preferred tile among those that pad its panels least); the data gradient "full" where
    it applies and multiplies fewer lanes than "columns" costs, counting a col2im add as
    COL2IM_ADD lane products."""
    first = {part: list(candidates(dtype, n)[0]) for part, n in panel_counts(s).items()}
    way = "columns"
    if s.full_pad() is not None:
        R, V = first["full"]
        spans = dc.tap_spans(s.h, s.w, s.oh, s.kh, 1, s.full_pad()[0], s.dh, s.m * s.kw, R)
        full = (int((spans[:, 1] - spans[:, 0]).sum()) * R
                * -(-s.c // dc.lanes_of(dtype, V)) * dc.lanes_of(dtype, V))
        k, pixels = s.c * s.kh * s.kw, s.oh * s.ow
        lanes = dc.lanes_of(dtype, first["columns"][1])
        columns = k * -(-pixels // lanes) * lanes * s.m + COL2IM_ADD * k * pixels
        if full <= columns:
            way = "full"
    return {"algorithm": "direct", "forward": first["forward"], "weight": first["weight"],
            "data": [way, *first[way]]}


def tuning_dir():
    d = os.environ.get("LAYERFLOW_TUNING_DIR")
    if d:
        return Path(d)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "layerflow" / "tuning"


def tuning_file():
    """The file of this CPU target's choices: one per CPU name, ISA and flag set."""
    t = target()
    flags = "-".join(t.flags).replace(".", "")
    return tuning_dir() / f"conv-v{VERSION}-{t.cpu}-{t.isa}-{flags or 'none'}.json"


def tuning_enabled():
    return os.environ.get("LAYERFLOW_TUNE", "1").strip().lower() not in ("0", "false", "no",
                                                                          "off")


def _load(path):
    try:
        with open(path) as f:
            table = json.load(f)
        return table if isinstance(table, dict) else {}
    except (OSError, ValueError):
        return {}


def _store(path, key, choice):
    """Add key: choice to the file (read again first: other processes may have added
    theirs), written to a temporary file and renamed, so that no reader sees half."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        table = _load(path)
        table[key] = choice
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(table, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass                      # a read-only home: the choice holds for this process


def _best(candidates, make, run, repeats=3, margin=MARGIN, clock=time.perf_counter):
    """The candidate c whose run(make(c)) takes least time: one warm-up run each (which
    also compiles or loads its kernels), then rounds that time each candidate in turn (a
    burst of load from other processes then hits all alike), best of the rounds: at least
    `repeats`, more while the rounds took under ROUNDS_SECONDS (up to MAX_ROUNDS), so that
    a layer of a millisecond is not judged by three runs of which any may lose a time
    slice to another process. The first candidate (the default) stays unless another is
    faster by `margin`. `clock`: wall time, or the process's CPU time where the candidates
    share their work out alike (the tiles of one product), which a time slice lost to
    another process does not inflate."""
    plans = [make(c) for c in candidates]
    for p in plans:
        run(p)
    best = [float("inf")] * len(plans)
    rounds, start = 0, time.perf_counter()
    while rounds < repeats or (rounds < MAX_ROUNDS
                               and time.perf_counter() - start < ROUNDS_SECONDS):
        rounds += 1
        for i, p in enumerate(plans):
            t0 = clock()
            run(p)
            best[i] = min(best[i], clock() - t0)
    i = min(range(len(plans)), key=best.__getitem__)
    return candidates[i] if best[i] < best[0] * (1 - margin) else candidates[0]


def _arrays(s, dtype):
    """Random x, weights, bias, y, dy, dx, dW of shape s."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((s.n, s.c, s.h, s.w)).astype(dtype)
    w4 = rng.standard_normal((s.m, s.c, s.kh, s.kw)).astype(dtype)
    y = np.empty((s.n, s.m, s.oh, s.ow), dtype)
    dy = rng.standard_normal(y.shape).astype(dtype)
    return x, w4, np.zeros(s.m, dtype), y, dy, np.empty_like(x), np.zeros_like(w4)


def measure(s, dtype, threads, bias, training, slabs=None):
    """Time each candidate of each part on random data; the fastest of each (a test-phase
    layer, which runs forward only, times only the forward tiles). The tiles are timed on
    TUNE_IMAGES images a thread (the time per image is what differs), the best direct
    kernels against im2col on ALGO_IMAGES a thread: im2col's chunks are several images
    each, and with fewer it would run on fewer threads than the direct kernels. A 1x1
    layer without padding times Pointwise against the untuned direct kernels and im2col
    only: the direct kernels ran 1x1 products at a third to half of BLAS's speed
    (MobileNet's pointwise layers), so their tiles are not worth the tuning time."""
    full = s
    if pointwise_applies(s):
        return _best_algorithm(full, dtype, threads, bias, training,
                               [{"algorithm": "pointwise"}, default_choice(s, dtype)], slabs)
    s = dataclasses.replace(full, n=min(full.n, TUNE_IMAGES * max(1, threads)))
    x, w4, b, y, dy, dx, wd = _arrays(s, dtype)
    base = default_choice(s, dtype)
    ways = ["columns"] + (["full"] if s.full_pad() is not None else [])

    def plan(part):
        def make_plan(c):
            p = Direct(s, dtype, threads, dict(base, **{part: c}))
            p.dgrad.prepare(w4)
            return p
        return make_plan

    def fwd(p):
        p.forward(x, w4, b, bias, y)

    def weight(p):
        p.backward(x, dy, w4, False, dx, wd, b, bias)

    def data(p):
        # the weights' panels are made once a pass in a layer (not timed: on a few images
        # their 0.04 ms hid that "full" is 15 % faster on cifar10-quick's conv3)
        run_parallel(lambda t: p.dgrad.run(t, dy, *p.ranges[t], w4, dx), p.parts)

    counts = panel_counts(s)

    def cands(part):
        return [list(t) for t in candidates(dtype, counts[part])]

    cpu = time.process_time          # the tiles split the images alike: their work decides
    direct = dict(base, forward=_best(cands("forward"), plan("forward"), fwd, clock=cpu))
    if training:
        direct["weight"] = _best(cands("weight"), plan("weight"), weight, clock=cpu)
        data_cands = [[way, *t] for way in ways for t in cands(way)]
        first = data_cands.index(base["data"])      # the default, timed first
        direct["data"] = _best([data_cands[first]] + data_cands[:first]
                               + data_cands[first + 1:], plan("data"), data, clock=cpu)
    return _best_algorithm(full, dtype, threads, bias, training, [direct], slabs)


def _best_algorithm(full, dtype, threads, bias, training, choices, slabs=None):
    """The fastest of `choices` and im2col (the first kept unless another is faster by
    twice MARGIN), timed on ALGO_IMAGES images a thread of the layer's shape `full`."""
    s = dataclasses.replace(full, n=min(full.n, ALGO_IMAGES * max(1, threads)))
    x, w4, b, y, dy, dx, wd = _arrays(s, dtype)

    def step(p):
        p.forward(x, w4, b, bias, y)
        if training:
            p.backward(x, dy, w4, True, dx, wd, b, bias)
    return _best(choices + [{"algorithm": "im2col"}],
                 lambda c: make(s, dtype, threads, c, training, full.n, slabs), step,
                 margin=2 * MARGIN)


def make(s, dtype, threads, choice, training, batch=None, slabs=None):
    """The plan object of a choice (batch: see Im2col). slabs: how many pieces Pointwise
    and im2col cut one product into when the batch cannot occupy the threads
    (Runtime.product_parts: the threads where OpenBLAS is held at one thread, else 1, as
    a threaded BLAS splits itself); None: the threads."""
    if choice["algorithm"] == "im2col":
        return Im2col(s, dtype, threads, training, batch, slabs)
    if choice["algorithm"] == "pointwise":
        return Pointwise(s, dtype, threads, slabs)
    return Direct(s, dtype, threads, choice)


def plan(s, dtype, threads, bias, training, slabs=None):
    """(plan, how) for a layer of shape s: grouped convolutions take im2col + BLAS; the
    others what `choose` picks. plan.forward / plan.backward run it."""
    if s.g != 1:
        return Im2col(s, dtype, threads, training, slabs=slabs), "grouped"
    choice, how = choose(s, dtype, threads, bias, training, slabs)
    return make(s, dtype, threads, choice, training, slabs=slabs), how


def choose(s, dtype, threads, bias, training=True, slabs=None):
    """The choice for this shape: from the tuning file, else measured (and stored), or the
    default when tuning is off or the layer is small. Returns (choice, how)."""
    if not tuning_enabled():
        return untuned_choice(s, dtype), "default (LAYERFLOW_TUNE=0)"
    if s.flops < TUNE_FLOPS:
        return untuned_choice(s, dtype), "default (small)"
    path = tuning_file()
    key = s.key(dtype, threads, bias) + (" train" if training else " test")
    choice = _load(path).get(key)
    if _valid(choice, s):
        return choice, "measured (cached)"
    t0 = time.perf_counter()
    choice = measure(s, dtype, threads, bias, training, slabs)
    _store(path, key, choice)
    return choice, f"measured ({time.perf_counter() - t0:.2f} s)"


def _valid(choice, s):
    """Whether a cached choice is one of im2col, Pointwise where it applies, or direct
    kernels that name tiles of this target and a data way that applies."""
    try:
        if choice["algorithm"] == "pointwise":
            return pointwise_applies(s)
        if choice["algorithm"] == "im2col":
            return True
        cands = [list(t) for t in tiles()]
        way, *tile = choice["data"]
        return (choice["algorithm"] == "direct"
                and choice["forward"] in cands and choice["weight"] in cands and tile in cands
                and way in DATA_WAYS and (way == "columns" or s.full_pad() is not None))
    except (TypeError, KeyError, ValueError):
        return False


def arrays(plan):
    """Every numpy buffer a plan holds (for memory reports)."""
    out = []
    for value in vars(plan).values():
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, np.ndarray):
                out.append(v)
            elif isinstance(v, (_Forward, _WeightGrad, _DataFull, _DataColumns)):
                out += arrays(v)
    return out


def describe_choice(choice):
    if choice["algorithm"] == "im2col":
        return "im2col + BLAS"
    if choice["algorithm"] == "pointwise":
        return "pointwise (1x1: BLAS on NCHW)"
    (fr, fv), (wr, wv) = choice["forward"], choice["weight"]
    way, dr, dv = choice["data"]
    return f"direct fwd {fr}x{fv}, dW {wr}x{wv}, dX {way} {dr}x{dv}"


def describe(layer):
    """One line: the algorithm a Convolution layer runs (after reshape), for `layerflow
    time` / `layerflow device`."""
    p = getattr(layer, "_plan", None)
    if p is None:
        return "not set up"
    return f"{describe_choice(p.choice)} [{layer._plan_how}; {target().isa}]"
