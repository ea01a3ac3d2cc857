#!/usr/bin/env bash
# The GPU check, for whoever has an NVIDIA GPU: run once, paste the output into docs/gpu.md.
#
#   bash tools/gpu_check.sh            # from the repository root, in an environment with
#                                      # pip install -e ".[dev,cuda]" and a CUDA build of torch
#
# 1. the card, the driver and what numba-cuda sees;
# 2. the CUDA test suite on the real GPU (tests/cuda: every kernel against its CPU twin, and
#    the whole-net parity; the same tests run in Numba's simulator on machines without one);
# 3. every launched kernel signature compiled for this card's compute capability;
# 4. tools/bench.py --mode cuda: layerflow CUDA against PyTorch CUDA on the same card,
#    LeNet and cifar10-quick training iterations (median ms, ratio).
# PyTorch must be a CUDA build for step 4 (pip install torch --index-url <the CUDA wheels>).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
unset NUMBA_ENABLE_CUDASIM

echo "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv
python - <<'PY'
from numba import cuda
cuda.detect()
import torch
print("torch", torch.__version__, "CUDA", torch.version.cuda, "available:",
      torch.cuda.is_available())
PY

echo "== CUDA tests on the GPU"
python -m pytest -q -m cuda tests/cuda

echo "== PTX for this card"
cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1)
python tools/cuda_ptx_check.py --cc "$cc" || echo "(cuda_ptx_check needs NVVM: pip install nvidia-nvvm nvidia-cuda-nvrtc)"

echo "== layerflow CUDA vs PyTorch CUDA"
python tools/bench.py --mode cuda --only lenet_train cifar10_quick_train --iters 200
python tools/bench.py --mode cuda --only lenet_train --iters 50 --profile
