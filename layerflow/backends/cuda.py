"""The CUDA device of a blob's copies, through numba-cuda device arrays (imported only in
CUDA mode). Kernels for it live in `layerflow/kernels/cuda/`, named as their CPU twins."""
import importlib

from numba import cuda


class CudaDevice:
    def __init__(self, device_id=0):
        self.device_id = device_id
        cuda.select_device(device_id)
        self.name = f"cuda:{device_id}"

    def zeros(self, count, dtype):
        dev = cuda.device_array(max(int(count), 1), dtype)[:count]
        if count:
            _fill_zero(dev)
        return dev

    def fill_zero(self, dev):
        if dev.size:
            _fill_zero(dev)

    def upload(self, host, dev):
        dev.copy_to_device(host)

    def download(self, dev, host):
        dev.copy_to_host(host)

    def empty(self, shape, dtype):
        return cuda.device_array(shape, dtype)

    def pinned(self, shape, dtype):
        """A host array in page-locked memory: copies from it are DMA and can be async."""
        return cuda.pinned_array(shape, dtype)

    def stream(self):
        return cuda.stream()

    def upload_async(self, host, dev, stream):
        """Queue host -> device on `stream` (host must be pinned to overlap)."""
        dev.copy_to_device(host, stream=stream)

    def copy(self, src, dst):
        """Device -> device on the compute (default) stream."""
        dst.copy_to_device(src)

    def wait_for_compute(self, stream):
        """Make `stream`'s next work wait, on the device, for what the compute stream has
        queued so far."""
        done = cuda.event()
        done.record()
        done.wait(stream)

    def event(self):
        """A CUDA event (`layerflow time` records a pair around each layer)."""
        return cuda.event()

    def synchronize(self):
        cuda.synchronize()

    def kernels(self, name):
        return importlib.import_module(f"layerflow.kernels.cuda.{name}")


@cuda.jit
def _zero(a):
    i = cuda.grid(1)
    while i < a.size:
        a[i] = 0
        i += cuda.gridsize(1)


def _fill_zero(dev):
    from ..kernels.cuda.launch import grid      # capped grid (small blocks in the simulator)
    _zero[grid(dev.size)](dev)
