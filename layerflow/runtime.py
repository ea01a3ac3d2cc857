"""Runtime: where and how a net runs — mode (cpu | cuda), device id, threads, and the rank
and world size of a data-parallel job. The CLI or the Solver makes one from the config,
the flags and the environment, and hands it to every Net it builds; a Net hands it to its
layers (`layer.runtime`). Nothing else decides these behind a Net's back: two nets built
with different runtimes in one process each run with their own.

Threads (measured, docs/convolution.md): `threads` for Numba's pool and layerflow's own
chunk threads; `blas_threads` for numpy's OpenBLAS, by default 1 in a net whose layers
run their own threads (Convolution, Deconvolution, Pooling: two pools on the same cores
collapsed LeNet's iteration 5x on a loaded machine) and `threads` otherwise (an MLP's
products are 1.6x faster on OpenBLAS's second thread). `layerflow.kernels.cpu.threads`
applies a net's settings around each of its passes.

Environment: LAYERFLOW_NUM_THREADS (else OMP_NUM_THREADS, else the CPUs this process may
use, divided among the ranks of an MPI job on one host), LAYERFLOW_BLAS_THREADS,
LAYERFLOW_DEVICE (the CUDA device id).
"""
import os
from dataclasses import dataclass, replace

MODES = ("cpu", "cuda")


class DeviceUnavailable(RuntimeError):
    """CUDA mode was asked for but cannot run here; the message says what is missing."""


@dataclass(frozen=True)
class Runtime:
    mode: str = "cpu"
    device_id: int = 0
    threads: int = 1
    blas_threads: int | None = None      # None: the net decides (1 with own-thread layers)
    rank: int = 0
    world_size: int = 1
    local_size: int = 1                  # ranks on this host (threads are split among them)

    @classmethod
    def create(cls, mode=None, device_id=None, threads=None, blas_threads=None, rank=0,
               world_size=1, local_size=None, env=None):
        """A runtime from explicit settings, falling back to the environment."""
        env = os.environ if env is None else env
        mode = (mode or "cpu").lower()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got '{mode}'")
        local_size = local_size or 1
        if threads is None:
            threads = _env_int(env, "LAYERFLOW_NUM_THREADS") or _env_int(env, "OMP_NUM_THREADS")
        if threads is None:
            threads = max(1, usable_cpus() // max(local_size, 1))
        if blas_threads is None:
            blas_threads = _env_int(env, "LAYERFLOW_BLAS_THREADS")
        if device_id is None:
            device_id = _env_int(env, "LAYERFLOW_DEVICE") or 0
        return cls(mode, int(device_id), int(threads), blas_threads, int(rank),
                   int(world_size), int(local_size))

    def for_net(self, own_threads):
        """This runtime with the BLAS thread count resolved for a net (see module doc)."""
        if self.blas_threads is not None:
            return self
        return replace(self, blas_threads=1 if own_threads else self.threads)

    @property
    def product_parts(self):
        """Slabs a layer cuts a large matrix product into (kernels.cpu.threads.matmul): its
        own threads where OpenBLAS is held at one, else 1 (a threaded BLAS splits itself)."""
        return self.threads if self.blas_threads == 1 else 1

    def device(self):
        """The device blobs keep their copies on: None in CPU mode; in CUDA mode the
        numba-cuda device (DeviceUnavailable when it cannot be had)."""
        if self.mode != "cuda":
            return None
        from .backends import cuda_device
        return cuda_device(self.device_id)

    def describe(self):
        parts = [f"mode {self.mode}" + (f" (device {self.device_id})"
                                        if self.mode == "cuda" else ""),
                 f"{self.threads} thread(s)",
                 f"BLAS {self.blas_threads if self.blas_threads is not None else 'auto'}"]
        if self.world_size > 1:
            parts.append(f"rank {self.rank} of {self.world_size}")
        return ", ".join(parts)


def usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                       # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _env_int(env, name):
    value = str(env.get(name, "")).strip()
    return int(value) if value.isdigit() and int(value) > 0 else None
