"""The MPI job as layerflow sees it: rank, world size, the start-up consistency check, and
the one way a rank's error ends the whole job (`MPI.COMM_WORLD.Abort` with its message).

mpi4py is imported only when the process was started by an MPI launcher (`mpirun`,
`mpiexec`, `srun --mpi`), recognised by the variables the launchers set (MPICH/Hydra and
PMI: PMI_RANK, PMI_SIZE; PMIx: PMIX_RANK; Open MPI: OMPI_COMM_WORLD_RANK; MVAPICH:
MV2_COMM_WORLD_RANK). A plain `layerflow train` never touches MPI.

Only buffer-based MPI calls are used (`Bcast`, `Allgather`, `Iallreduce` on NumPy arrays):
mpi4py's lower-case methods pickle Python objects, and layerflow uses no pickle; the few
small non-array values (generator states) travel as JSON bytes.
"""
import hashlib
import json
import os
import sys
import time

import numpy as np

LAUNCHER_VARIABLES = ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_RANK",
                      "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_RANK")


class ParallelError(ValueError):
    """A data-parallel set-up problem (missing mpi4py, ranks that disagree, a snapshot of
    another world size): printed as one line, and the job aborted."""


def launched_by_mpi(environ=None):
    """Whether an MPI launcher started this process (so that mpi4py must be used)."""
    environ = os.environ if environ is None else environ
    return any(v in environ for v in LAUNCHER_VARIABLES)


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as exc:
        found = [v for v in LAUNCHER_VARIABLES if v in os.environ]
        why = (f"this process was started by an MPI launcher ({found[0]} is set)" if found
               else "data-parallel training was asked for (--mpi or 'mpi: true')")
        raise ParallelError(f"{why}, but mpi4py cannot be imported ({exc}); install it with "
                            "pip install 'layerflow[mpi]' (mpi4py, plus the 'mpich' package "
                            "where the system has no MPI)") from None
    return MPI


class World:
    """COMM_WORLD with layerflow's few collective operations. `World()` imports mpi4py
    (a ParallelError when it is missing); `rank`, `size`, `local_size` (ranks on this
    host)."""

    def __init__(self, comm=None):
        self.MPI = _mpi()
        self.comm = comm if comm is not None else self.MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        shared = self.comm.Split_type(self.MPI.COMM_TYPE_SHARED)
        self.local_size = shared.Get_size()
        shared.Free()

    @property
    def root(self):
        return self.rank == 0

    def abort(self, message, code=1):
        """Print `message` (naming this rank) and end every rank of the job."""
        sys.stdout.flush()
        print(f"layerflow: error: rank {self.rank} of {self.size}: {message}", file=sys.stderr,
              flush=True)
        self.comm.Abort(code)

    def bcast(self, array, root=0):
        """Broadcast a C-contiguous array in place from `root`."""
        self.comm.Bcast(array, root=root)

    def bcast_json(self, value, root=0):
        """Broadcast a JSON-able value from `root`; returns root's value on every rank."""
        data = json.dumps(value).encode() if self.rank == root else b""
        n = np.array([len(data)], np.int64)
        self.comm.Bcast(n, root=root)
        buf = np.frombuffer(data, np.uint8).copy() if self.rank == root else \
            np.empty(int(n[0]), np.uint8)
        self.comm.Bcast(buf, root=root)
        return json.loads(buf.tobytes().decode())

    def wait_all(self, requests):
        """Wait for `requests`, sleeping between tests: MPICH's own Wait spins on a core,
        which on a host with more busy threads than cores (ranks x threads, or other jobs)
        takes the core from the very rank it waits for. It tests without sleeping for
        the first 50 us (a result that is nearly there comes at once), then sleeps 20 us
        growing to 0.5 ms, so a wait costs at most about 0.5 ms more than spinning."""
        end = time.perf_counter() + 5e-5
        while time.perf_counter() < end:
            if self.MPI.Request.Testall(requests):
                return
        pause = 2e-5
        while not self.MPI.Request.Testall(requests):
            time.sleep(pause)
            pause = min(2 * pause, 5e-4)

    def allreduce_max(self, value):
        a = np.array([value], np.int64)
        self.wait_all([self.comm.Iallreduce(self.MPI.IN_PLACE, a, op=self.MPI.MAX)])
        return int(a[0])

    def gather_rows(self, array, root=0):
        """Stack every rank's equal-shaped array on `root` ((size,) + shape); None elsewhere."""
        array = np.ascontiguousarray(array)
        out = np.empty((self.size,) + array.shape, array.dtype) if self.rank == root else None
        self.comm.Gather(array, out, root=root)
        return out

    def check_consistent(self, description):
        """Raise ParallelError on every rank unless all ranks pass the same `description`
        (a text of the config, parameter shapes and dtype): its SHA-256 is compared."""
        digest = np.frombuffer(hashlib.sha256(description.encode()).digest(), np.uint8)
        every = np.empty((self.size, digest.size), np.uint8)
        self.comm.Allgather(digest, every)
        differ = [r for r in range(self.size) if not np.array_equal(every[r], every[0])]
        if differ:
            ranks = ", ".join(map(str, differ))
            raise ParallelError(
                f"rank{'s' if len(differ) > 1 else ''} {ranks} built a different net or solver "
                f"than rank 0 (the hash of config, parameter shapes and dtype differs: "
                f"{every[differ[0]][:6].tobytes().hex()} vs {every[0][:6].tobytes().hex()}); "
                f"this rank has: {_shorten(description)}")


def _shorten(text, limit=300):
    return text if len(text) <= limit else text[:limit] + "..."
