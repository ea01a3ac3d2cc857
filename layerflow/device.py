"""`layerflow device`: what this machine offers layerflow: CPU model and cores, the thread
settings of Numba and of numpy's BLAS (through threadpoolctl when installed), CUDA devices
(or why there are none) and MPI.

    layerflow device
"""
import os
import platform
import shutil
import sys

THREAD_VARS = ("NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER", "OMP_NUM_THREADS",
               "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_CORETYPE",
               "NUMBA_ENABLE_CUDASIM", "NUMBA_CACHE_DIR")


def cpu_info():
    """Model name, logical cores, cores this process may use, physical cores."""
    model, physical = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            phys_id = core_id = None
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "model name" and model in ("", platform.machine(),
                                                     platform.processor()):
                    model = value
                elif key == "physical id":
                    phys_id = value
                elif key == "core id":
                    core_id = value
                elif not key and phys_id is not None and core_id is not None:
                    physical.add((phys_id, core_id))
                    phys_id = core_id = None
            if phys_id is not None and core_id is not None:
                physical.add((phys_id, core_id))
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    return {"model": model or "unknown", "logical": os.cpu_count(), "usable": usable,
            "physical": len(physical) or None}


def numba_info():
    import numba
    info = {"version": numba.__version__, "threads": numba.get_num_threads(),
            "max_threads": numba.config.NUMBA_NUM_THREADS,
            "threading_layer": numba.config.THREADING_LAYER}
    try:
        info["threading_layer_in_use"] = numba.threading_layer()
    except ValueError:
        info["threading_layer_in_use"] = None        # no parallel kernel has run yet
    return info


def blas_info():
    """[(api, library, version, threads, file)] from threadpoolctl, or None without it."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    import numpy
    del numpy                      # imported only to load numpy's BLAS for threadpoolctl
    return [{"api": p.get("internal_api"), "library": p.get("prefix"),
             "version": p.get("version"), "threads": p.get("num_threads"),
             "file": p.get("filepath")} for p in threadpool_info()]


def cuda_info():
    """(devices, reason): devices as dicts, or an empty list and why."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return [], "NUMBA_ENABLE_CUDASIM=1: Numba's CUDA simulator is on (no real GPU used)"
    try:
        from numba import cuda
    except ImportError as exc:
        return [], f"numba.cuda cannot be imported ({exc})"
    try:
        if not cuda.is_available():
            err = cuda.cuda_error() if hasattr(cuda, "cuda_error") else None
            reason = " ".join(str(err).split()) if err else "no CUDA driver or device found"
            return [], reason
        devices = []
        for dev in cuda.list_devices():
            with dev:
                ctx = cuda.current_context()
                free, total = ctx.get_memory_info()
                cc = dev.compute_capability
                devices.append({"id": dev.id, "name": dev.name.decode() if isinstance(
                    dev.name, bytes) else str(dev.name), "compute_capability": f"{cc[0]}.{cc[1]}",
                    "memory_gib": total / 2**30, "free_gib": free / 2**30})
        return devices, None
    except Exception as exc:  # noqa: BLE001 - any driver failure is the reason to report
        return [], f"CUDA initialisation failed: {exc}"


def mpi_info():
    """(available, text)."""
    runner = shutil.which("mpirun") or shutil.which("mpiexec")
    try:
        import mpi4py
        mpi4py.rc.initialize = False
        mpi4py.rc.finalize = False
        from mpi4py import MPI
    except ImportError:
        return False, ("mpi4py is not installed (pip install mpi4py)" +
                       (f"; {runner} found" if runner else "; no mpirun/mpiexec on PATH"))
    except Exception as exc:  # noqa: BLE001
        return False, f"mpi4py failed to load ({exc})"
    lib = " ".join(MPI.Get_library_version().split()[:4])
    return True, (f"mpi4py {mpi4py.__version__}, {lib}; "
                  + (f"launcher {runner}" if runner else "no mpirun/mpiexec on PATH"))


def report():
    """The whole report as text."""
    import numpy
    cpu = cpu_info()
    lines = [f"Python     {platform.python_version()} ({sys.executable})",
             f"numpy      {numpy.__version__}",
             f"CPU        {cpu['model']}",
             f"cores      {cpu['logical']} logical, {cpu['physical'] or '?'} physical, "
             f"{cpu['usable']} usable by this process"]
    from .kernels.cpu import threads
    from .runtime import Runtime
    runtime = Runtime.create()
    lines.append(f"runtime    {runtime.describe()} (LAYERFLOW_NUM_THREADS, "
                 "LAYERFLOW_BLAS_THREADS, --threads)")
    from .kernels.cpu import conv_plan, isa
    lines.append(f"vectors    {isa.features()}")
    lines.append(f"conv plans {conv_plan.tuning_file()}" +
                 ("" if conv_plan.tuning_enabled() else " (LAYERFLOW_TUNE=0: fixed default)"))
    layers = {}
    for own in (False, True):        # what a dense net, then a conv net, puts in force
        threads.apply(runtime.for_net(own))
        layers[own] = blas_info()
    nb = numba_info()
    layer = nb["threading_layer_in_use"] or f"{nb['threading_layer']} (chosen at first use)"
    lines.append(f"Numba      {nb['version']}: {nb['threads']} threads "
                 f"(NUMBA_NUM_THREADS {nb['max_threads']}), threading layer {layer}")
    openblas = [p["threads"] for p in layers[True] or [] if p["api"] == "openblas"]
    dense = [p["threads"] for p in layers[False] or [] if p["api"] == "openblas"]
    if openblas and dense:
        lines.append(f"policy     OpenBLAS {dense[0]} thread(s) in dense nets, {openblas[0]} in "
                     "nets with Convolution/Pooling (LAYERFLOW_BLAS_THREADS overrides)")
    blas = layers[False]
    if blas is None:
        lines.append("BLAS       threadpoolctl not installed (pip install threadpoolctl); "
                     "thread variables below")
    elif not blas:
        lines.append("BLAS       no thread pool found")
    for p in blas or []:
        name = " ".join(str(x) for x in (p["api"], p["version"]) if x)
        lines.append(f"BLAS       {name}: {p['threads']} threads ({p['file']})")
    env = [f"{k}={os.environ[k]}" for k in THREAD_VARS if k in os.environ]
    lines.append("env        " + (" ".join(env) if env else "(no thread variables set)"))
    devices, reason = cuda_info()
    if devices:
        for d in devices:
            lines.append(f"CUDA       device {d['id']}: {d['name']}, compute capability "
                         f"{d['compute_capability']}, {d['memory_gib']:.1f} GiB "
                         f"({d['free_gib']:.1f} free)")
    else:
        lines.append(f"CUDA       none: {reason}")
    ok, text = mpi_info()
    lines.append(f"MPI        {'available' if ok else 'not available'}: {text}")
    return "\n".join(lines)
