"""Compile every CUDA kernel the tests launch for a real GPU, without one.

The simulator runs kernels as Python, so it cannot tell whether Numba's CUDA target accepts
them (typing, unsupported functions, float64 creeping into float32 kernels). This script
runs tests/cuda in the simulator recording each launch's argument types
(tests/cuda/conftest.py), then compiles each recorded signature to PTX with NVVM, for
sm_90 unless --cc says otherwise, and reports failures and float32 kernels that contain
float64 arithmetic. Needs NVVM and NVRTC, e.g. `pip install nvidia-nvvm nvidia-cuda-nvrtc`
(the libraries found on LD_LIBRARY_PATH or in site-packages); no driver, no GPU.

    python tools/cuda_ptx_check.py [--cc 9.0] [--keep FILE]
"""
import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def record(path):
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", LAYERFLOW_CUDA_SIGNATURES=str(path),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                    str(ROOT / "tests" / "cuda")], env=env, check=True, cwd=ROOT)


def compile_all(path, cc):
    import types as pytypes

    import numba
    import numba.cuda.dispatcher as dispatcher
    import numpy as np
    from numba import cuda, types

    # a kernel that calls a device function asks the current device for its compute
    # capability while compiling; there is no driver here, so the target's is given
    dispatcher.get_current_device = lambda: pytypes.SimpleNamespace(compute_capability=cc)

    sys.path.insert(0, str(ROOT))
    from layerflow.kernels.cuda import gemm

    def numba_type(d):
        if d[0] == "array":
            return types.Array(numba.from_dtype(np.dtype(d[1])), d[2], "C")
        if d[0] == "bool":
            return types.boolean
        return numba.from_dtype(np.dtype(d[1]))

    failures, f64_in_f32, done = [], [], set()
    for line in Path(path).read_text().splitlines():
        module, qualname, args, *closure = json.loads(line)
        sig = tuple(numba_type(a) for a in args)
        if "<locals>" in qualname:
            dtype = np.dtype(closure[0]["nt"])
            factory = qualname.split(".<locals>")[0]
            if factory == "_kernel":                    # gemm: the GPU's tile shapes
                fns = [gemm._kernel(dtype.type, *v).py_func for v in gemm.VARIANTS.values()]
            else:
                fns = [getattr(importlib.import_module(module), factory)(dtype).py_func]
        else:
            fns = [getattr(importlib.import_module(module), qualname).py_func]
        for fn in fns:
            key = (module, qualname, fn.__code__.co_firstlineno, str(sig), id(fn) if
                   "<locals>" in qualname else 0)
            if key in done:
                continue
            done.add(key)
            name = f"{module.rsplit('.', 1)[1]}.{qualname}{sig}"
            try:
                ptx, _ = cuda.compile_ptx(fn, sig, cc=cc)
            except Exception as exc:                    # noqa: BLE001 (report them all)
                failures.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
                continue
            arrays = [a for a in sig if isinstance(a, types.Array)]
            if arrays and all(a.dtype == types.float32 for a in arrays):
                n = sum(".f64" in ln and "cvt" not in ln for ln in ptx.splitlines())
                if n:
                    f64_in_f32.append(f"{name}: {n} float64 instructions")
    return len(done), failures, f64_in_f32


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cc", default="9.0", help="compute capability (default 9.0)")
    ap.add_argument("--keep", help="keep the recorded signatures in this file")
    args = ap.parse_args()
    path = Path(args.keep or tempfile.mkstemp(suffix=".jsonl")[1])
    path.write_text("")
    record(path)
    os.environ.pop("NUMBA_ENABLE_CUDASIM", None)
    cc = tuple(int(v) for v in args.cc.split("."))
    count, failures, f64_in_f32 = compile_all(path, cc)
    print(f"compiled {count} kernel signatures for sm_{cc[0]}{cc[1]}: "
          f"{len(failures)} failed")
    for f in failures:
        print("  FAILED", f)
    for f in f64_in_f32:
        print("  note: float32 kernel with float64 math:", f)
    if not args.keep:
        path.unlink()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
