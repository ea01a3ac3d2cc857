"""Devices a blob can keep copies on. A device is any object with

    zeros(count, dtype) -> a zeroed flat device array
    fill_zero(dev)          dev[...] = 0 on the device
    upload(host, dev)       host (flat numpy array) -> dev
    download(dev, host)     dev -> host
    name                    for messages and `layerflow device`

and `kernels(module)` -> the kernel module of that name for the device (`sgd`, `relu` ...),
so that a caller picks `kernels/cuda/<name>.py` beside `kernels/cpu/<name>.py`.
`CudaDevice` (cuda.py) fills it in with numba-cuda device arrays; the CPU tests use a fake
device that counts its copies. Nothing here imports numba.cuda until CUDA mode asks for it.
"""
import importlib
import os

from ..runtime import DeviceUnavailable

_devices = {}


def cpu_kernels(name):
    """The CPU kernel module `layerflow.kernels.cpu.<name>`."""
    return importlib.import_module(f"layerflow.kernels.cpu.{name}")


def cuda_device(device_id=0):
    """The CudaDevice for `device_id` (made once), or DeviceUnavailable saying what is
    missing: numba-cuda, a CUDA driver, or the device."""
    if device_id in _devices:
        return _devices[device_id]
    try:
        from numba import cuda
    except ImportError as exc:                  # pragma: no cover - numba has cuda
        raise DeviceUnavailable(f"CUDA mode needs numba-cuda (pip install 'layerflow[cuda]'): "
                                f"{exc}") from None
    simulator = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
    if not simulator:
        try:
            import numba_cuda  # noqa: F401  (the maintained CUDA target)
        except ImportError:
            raise DeviceUnavailable("CUDA mode needs numba-cuda: pip install "
                                    "'layerflow[cuda]' (or run with --mode cpu)") from None
        try:
            available = cuda.is_available()
        except Exception as exc:                # driver errors surface in many types
            raise DeviceUnavailable(f"no CUDA device found ({exc}); run with --mode cpu") \
                from None
        if not available:
            raise DeviceUnavailable("no CUDA device found (numba-cuda sees no GPU or driver); "
                                    "run with --mode cpu")
        count = len(cuda.gpus)
        if device_id >= count:
            raise DeviceUnavailable(f"CUDA device {device_id} does not exist ({count} "
                                    f"device(s): 0..{count - 1})")
    from .cuda import CudaDevice
    _devices[device_id] = CudaDevice(device_id)
    return _devices[device_id]
