"""Blob: the data and diff arrays of one shape that flow between layers.

As in Caffe, a blob owns flat buffers and hands out shaped views of them, so that
`reshape` to a size that fits reuses the memory (no allocation on the hot path), and two
blobs may share their data or diff buffers.
"""
import numpy as np


class Blob:
    """`data` and `diff`: arrays of `shape` (NCHW), float32 by default."""

    __slots__ = ("name", "dtype", "shape", "_data_buf", "_diff_buf", "data", "diff")

    def __init__(self, shape=(), dtype=np.float32, name=""):
        self.name = name
        self.dtype = np.dtype(dtype)
        self.shape = None
        self._data_buf = np.zeros(0, self.dtype)
        self._diff_buf = np.zeros(0, self.dtype)
        self.reshape(shape)

    @property
    def count(self):
        return self.data.size

    @property
    def ndim(self):
        return len(self.shape)

    def reshape(self, shape):
        """Give the blob a new shape; the buffers grow only when the new count exceeds them."""
        if shape == self.shape:
            return
        shape = (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)
        if shape == self.shape:
            return
        if any(s < 0 for s in shape):
            raise ValueError(f"blob '{self.name}': negative dimension in shape {shape}")
        count = int(np.prod(shape, dtype=np.int64))
        if count > self._data_buf.size:
            self._data_buf = np.zeros(count, self.dtype)
        if count > self._diff_buf.size:
            self._diff_buf = np.zeros(count, self.dtype)
        self.shape = shape
        self._views()

    def _views(self):
        count = int(np.prod(self.shape, dtype=np.int64))
        self.data = self._data_buf[:count].reshape(self.shape)
        self.diff = self._diff_buf[:count].reshape(self.shape)

    def share_data(self, other):
        """Use `other`'s data buffer (same count), as Caffe's ShareData."""
        self._check_same_count(other)
        self._data_buf = other._data_buf
        self._views()

    def share_diff(self, other):
        """Use `other`'s diff buffer (same count), as Caffe's ShareDiff."""
        self._check_same_count(other)
        self._diff_buf = other._diff_buf
        self._views()

    def buffers(self):
        """The flat (data, diff) arrays behind the views; their size is the capacity, which
        may exceed `count` after a shrinking reshape (memory reports count them)."""
        return self._data_buf, self._diff_buf

    def shares_data_with(self, other):
        return self._data_buf is other._data_buf

    def shares_diff_with(self, other):
        return self._diff_buf is other._diff_buf

    def _check_same_count(self, other):
        if other.count != self.count:
            raise ValueError(f"blob '{self.name}' {self.shape} cannot share with "
                             f"'{other.name}' {other.shape}: counts differ")

    def __repr__(self):
        return f"Blob({self.name!r}, shape={self.shape}, dtype={self.dtype.name})"
