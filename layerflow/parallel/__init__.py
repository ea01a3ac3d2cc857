"""Data-parallel training over MPI (mpi4py): `mpirun -n K layerflow train CONFIG`.

comm.py: rank and world size, the start-up consistency check, Abort on a rank's error.
allreduce.py: gradients averaged over flat buckets, overlapped with backward.
data_parallel.py: `attach(solver, world)`, the glue between a rank's Solver and the job.
docs/distributed.md tells how to run it and what scales.
"""
from .comm import ParallelError, World, launched_by_mpi

__all__ = ["ParallelError", "World", "attach", "launched_by_mpi"]


def attach(solver, world, bucket_bytes=1 << 20):
    from .data_parallel import attach as _attach
    return _attach(solver, world, bucket_bytes)
