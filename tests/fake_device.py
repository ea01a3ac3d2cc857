"""A fake device for CPU tests: its "device arrays" are numpy arrays in host memory, and it
counts every copy across, so that tests can check where data moves (issue 10). A runtime in
mode "cuda" with this device runs layers' GPU twins where they have them and the CPU
fallback elsewhere, exactly as on a GPU."""
from dataclasses import dataclass

import numpy as np

from layerflow.runtime import Runtime


class FakeDevice:
    """A device whose arrays live in host memory; counts every copy across."""

    name = "fake"

    def __init__(self):
        self.uploads = self.downloads = 0

    def zeros(self, count, dtype):
        return np.zeros(count, dtype)

    def fill_zero(self, dev):
        dev.fill(0)

    def upload(self, host, dev):
        self.uploads += 1
        dev[...] = host

    def download(self, dev, host):
        self.downloads += 1
        host[...] = dev

    def empty(self, shape, dtype):
        return np.empty(shape, dtype)

    def pinned(self, shape, dtype):
        return np.empty(shape, dtype)

    def stream(self):
        return _Stream()

    def upload_async(self, host, dev, stream):
        self.upload(host, dev)

    def copy(self, src, dst):
        dst[...] = src

    def wait_for_compute(self, stream):
        pass

    def kernels(self, name):
        from layerflow.backends import cpu_kernels
        return cpu_kernels(name)        # numpy "device" arrays: the CPU kernels run on them

    def copies(self):
        return self.uploads, self.downloads


class _Stream:
    def synchronize(self):
        pass


FAKE = FakeDevice()


@dataclass(frozen=True)
class FakeRuntime(Runtime):
    def device(self):
        return FAKE if self.mode == "cuda" else None
