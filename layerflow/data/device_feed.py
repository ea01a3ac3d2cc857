"""CUDA mode's batch upload: the prefetch thread fills page-locked (pinned) host slots, and
each batch goes up on a stream of its own one iteration ahead, so that its copy overlaps the
current iteration's kernels (Caffe's data reader, cuDNN-era loaders and PyTorch's
`pin_memory` + `non_blocking` do the same).

Per data layer: one device array per top (`staged`). `take` waits for the staged batch's
copy, hands it to the tops with a device-to-device copy on the compute stream, gives the
host slot back to the prefetcher and starts the next batch's upload, which waits on the
device until that hand-over has run (so it never overwrites a batch still being copied)."""


class DeviceFeed:
    def __init__(self, device, prefetcher, shapes, dtype):
        self.device, self.prefetcher = device, prefetcher
        self.stream = device.stream()
        self.staged = [device.empty(shape, dtype) for shape in shapes]
        self.slot = None                 # the host slot whose upload is in flight

    def take(self, tops):
        """Copy the next batch into the tops' device arrays; returns its host slot's
        (rng_state, cursor), the data layer's position after this batch."""
        if self.slot is None:
            self._start()
        self.stream.synchronize()
        slot, self.slot = self.slot, None
        for t, d in zip(tops, self.staged):
            self.device.copy(d, t.mutable_gpu_data)
        state = slot.rng_state, slot.cursor
        self.prefetcher.release(slot)
        self._start()
        return state

    def _start(self):
        self.slot = self.prefetcher.get()
        self.device.wait_for_compute(self.stream)
        for a, d in zip(self.slot.arrays, self.staged):
            self.device.upload_async(a, d, self.stream)

    def close(self):
        """Wait for a copy in flight (its buffers must outlive it)."""
        self.stream.synchronize()
        self.slot = None
