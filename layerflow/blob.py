"""Blob: the data and diff arrays of one shape that flow between layers.

As in Caffe, a blob owns flat buffers and hands out shaped views of them, so that
`reshape` to a size that fits reuses the memory (no allocation on the hot path), and two
blobs may share their data or diff buffers.

Each buffer is a `SyncedArray` (Caffe's SyncedMemory): a host array and, when the blob lives
on a device, a device copy, with a head that says which copy is current. Host access
(`data`, `diff`, `flat_data`, `flat_diff`) is write access: it brings the host copy up to date
and marks the device copy stale. `cpu_data` / `cpu_diff` read without marking anything
stale. Device access is `gpu_data` / `gpu_diff` (read) and `mutable_gpu_data` /
`mutable_gpu_diff` (write). A copy moves only when the side asked for is stale. A blob with
no device (CPU mode) never checks a head: its accessors return the host views directly.

The device is any object with `zeros(count, dtype)`, `fill_zero(dev)`, `upload(host, dev)` and
`download(dev, host)` (see layerflow.backends); nothing here imports a GPU library.
"""
import numpy as np

UNINIT, AT_HOST, AT_DEVICE, SYNCED = "uninitialised", "at host", "at device", "synced"


class BlobSizeError(ValueError):
    """A blob larger than the memory this machine has; raised before allocating it."""


def memory_limit():
    """Bytes one blob may take: the machine's physical memory (sysconf), or None."""
    try:
        import os
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):     # pragma: no cover - not POSIX
        return None


_MEMORY = memory_limit()


class SyncedArray:
    """A flat host array, a lazily made device copy and the head between them."""

    __slots__ = ("host", "dev", "head", "device")

    def __init__(self, count, dtype, device=None):
        self.host = np.zeros(count, dtype)
        self.dev = None
        self.head = UNINIT
        self.device = device

    def to_host(self):
        """Make the host copy current (download when the device holds the newer values)."""
        if self.head == AT_DEVICE:
            self.device.download(self.dev, self.host)
            self.head = SYNCED
        elif self.head == UNINIT:
            self.head = AT_HOST

    def to_device(self):
        """Make the device copy current (allocate it zeroed the first time)."""
        if self.dev is None:
            self.dev = self.device.zeros(self.host.size, self.host.dtype)
            if self.head == UNINIT:             # both sides zero: nothing to move
                self.head = SYNCED
                return
        if self.head == AT_HOST:
            self.device.upload(self.host, self.dev)
            self.head = SYNCED
        elif self.head == UNINIT:
            self.head = SYNCED

    def zero(self):
        """Set every element to 0, on the device when there is one; nothing moves."""
        if self.device is None:
            self.host.fill(0)
            return
        if self.dev is None:
            self.dev = self.device.zeros(self.host.size, self.host.dtype)
        else:
            self.device.fill_zero(self.dev)
        self.head = AT_DEVICE

    def write_host(self):
        self.to_host()
        self.head = AT_HOST

    def write_device(self):
        self.to_device()
        self.head = AT_DEVICE


class Blob:
    """`data` and `diff`: arrays of `shape` (NCHW), float32 by default; `device` (or None
    for host only) holds their device copies."""

    __slots__ = ("name", "dtype", "shape", "count", "device", "_data", "_diff",
                 "_data_view", "_diff_view", "_data_flat", "_diff_flat", "_dev_views")

    def __init__(self, shape=(), dtype=np.float32, name="", device=None):
        self.name = name
        self.dtype = np.dtype(dtype)
        self.shape = None
        self.device = device
        self._data = SyncedArray(0, self.dtype, device)
        self._diff = SyncedArray(0, self.dtype, device)
        self.reshape(shape)

    # -- host access -----------------------------------------------------------------------
    @property
    def data(self):
        """Host data, for reading and writing (the device copy becomes stale)."""
        if self.device is not None:
            self._data.write_host()
        return self._data_view

    @property
    def diff(self):
        """Host diff, for reading and writing (the device copy becomes stale)."""
        if self.device is not None:
            self._diff.write_host()
        return self._diff_view

    @property
    def flat_data(self):
        """`data` as one flat array (the update rules' view), write access."""
        if self.device is not None:
            self._data.write_host()
        return self._data_flat

    @property
    def flat_diff(self):
        if self.device is not None:
            self._diff.write_host()
        return self._diff_flat

    @property
    def cpu_data(self):
        """Host data for reading only: synced from the device if needed, nothing marked
        stale (so a later device read moves nothing)."""
        if self.device is not None:
            self._data.to_host()
        return self._data_view

    @property
    def cpu_diff(self):
        if self.device is not None:
            self._diff.to_host()
        return self._diff_view

    # -- device access ---------------------------------------------------------------------
    @property
    def gpu_data(self):
        """Device data for reading."""
        self._need_device()
        self._data.to_device()
        return self._device_view(0)

    @property
    def gpu_diff(self):
        self._need_device()
        self._diff.to_device()
        return self._device_view(1)

    @property
    def mutable_gpu_data(self):
        """Device data for writing (the host copy becomes stale)."""
        self._need_device()
        self._data.write_device()
        return self._device_view(0)

    @property
    def mutable_gpu_diff(self):
        self._need_device()
        self._diff.write_device()
        return self._device_view(1)

    def _need_device(self):
        if self.device is None:
            raise RuntimeError(f"blob '{self.name}' has no device (CPU mode)")

    def _device_view(self, which):
        mem = self._diff if which else self._data
        cached = self._dev_views[which]
        if cached is not None and cached[0] is mem.dev:
            return cached[1]
        view = mem.dev[:self.count].reshape(self.shape) if self.shape else mem.dev[:1]
        self._dev_views[which] = (mem.dev, view)
        return view

    def zero_diff(self):
        """diff = 0 (as param diffs are cleared each iteration): on the device in CUDA mode,
        so that clearing moves nothing across."""
        self._diff.zero()

    def heads(self):
        """(data head, diff head): where each array's current copy is."""
        return self._data.head, self._diff.head

    # -- shape and sharing -----------------------------------------------------------------
    @property
    def ndim(self):
        return len(self.shape)

    def reshape(self, shape):
        """Give the blob a new shape; the buffers grow only when the new count exceeds them.
        A size no machine could hold is refused before anything is allocated."""
        if shape == self.shape:
            return
        shape = (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)
        if shape == self.shape:
            return
        if any(s < 0 for s in shape):
            raise ValueError(f"blob '{self.name}': negative dimension in shape {list(shape)}")
        count = 1
        for s in shape:                      # Python ints: no silent int64 wrap-around
            count *= s
        nbytes = 2 * count * self.dtype.itemsize
        if _MEMORY is not None and nbytes > _MEMORY:
            raise BlobSizeError(
                f"blob '{self.name}' of shape {list(shape)} needs {_gib(nbytes)} for its data "
                f"and diff, more than this machine's {_gib(_MEMORY)} of memory")
        if count > self._data.host.size:
            self._data = SyncedArray(count, self.dtype, self.device)
        if count > self._diff.host.size:
            self._diff = SyncedArray(count, self.dtype, self.device)
        self.shape = shape
        self.count = count
        self._views()

    def _views(self):
        count = self.count
        self._data_flat = self._data.host[:count]
        self._diff_flat = self._diff.host[:count]
        self._data_view = self._data_flat.reshape(self.shape)
        self._diff_view = self._diff_flat.reshape(self.shape)
        self._dev_views = [None, None]

    def share_data(self, other):
        """Use `other`'s data buffer (same count), as Caffe's ShareData."""
        self._check_same_count(other)
        self._data = other._data
        self._views()

    def share_diff(self, other):
        """Use `other`'s diff buffer (same count), as Caffe's ShareDiff."""
        self._check_same_count(other)
        self._diff = other._diff
        self._views()

    def buffers(self):
        """The flat host (data, diff) arrays behind the views; their size is the capacity,
        which may exceed `count` after a shrinking reshape (memory reports count them)."""
        return self._data.host, self._diff.host

    def shares_data_with(self, other):
        return self._data is other._data

    def shares_diff_with(self, other):
        return self._diff is other._diff

    def _check_same_count(self, other):
        if other.count != self.count:
            raise ValueError(f"blob '{self.name}' {self.shape} cannot share with "
                             f"'{other.name}' {other.shape}: counts differ")

    def __repr__(self):
        return f"Blob({self.name!r}, shape={self.shape}, dtype={self.dtype.name})"


def _gib(n):
    return f"{n / 2**30:.3g} GiB"
