"""Tile: repeats the bottom `tiles` times along `axis` (Caffe's layer; torch.tile with one
repeat count).

    y[outer, t, inner] = x[outer, inner]  for t < tiles, viewing x as (count(:axis),
                                          count(axis:)) and y as (count(:axis), tiles, ...)
    dx = sum over the tiles of dy

    - {name: tile, type: Tile, bottom: gate, top: gate_wide, axis: 2, tiles: 7}
"""
from dataclasses import dataclass

import numpy as np

from ..config.schema import bounded
from ..kernels.cpu.tile import tile_backward
from ..layer import Layer
from ..registry import register_layer
from .concat import canonical_axis


@register_layer("Tile")
class Tile(Layer):
    @dataclass
    class Params:
        axis: int = 1
        tiles: int = bounded(1, lo=1)

    def reshape(self, bottom, top):
        x = bottom[0]
        axis = canonical_axis(self, x, self.p.axis)
        outer = int(np.prod(x.shape[:axis], dtype=np.int64))
        inner = int(np.prod(x.shape[axis:], dtype=np.int64))
        shape = list(x.shape)
        shape[axis] *= self.p.tiles
        top[0].reshape(tuple(shape))
        self._x = (outer, 1, inner)
        self._y = (outer, self.p.tiles, inner)

    def forward_cpu(self, bottom, top):
        top[0].data.reshape(self._y)[...] = bottom[0].data.reshape(self._x)   # broadcast copy

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            tile_backward(top[0].diff.reshape(self._y),
                          bottom[0].diff.reshape(self._x[0], self._x[2]))

    def forward_gpu(self, bottom, top):
        """One block copy per tile (the copies Concat uses)."""
        k = self.device.kernels("copy")
        x = bottom[0].gpu_data.reshape(self._x)
        y = top[0].mutable_gpu_data.reshape(self._y)
        for t in range(self.p.tiles):
            k.channel_copy(x, y, t, True)

    def backward_gpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            self.device.kernels("tile").tile_backward(
                top[0].gpu_diff.reshape(self._y),
                bottom[0].mutable_gpu_diff.reshape(self._x[0], self._x[2]))
