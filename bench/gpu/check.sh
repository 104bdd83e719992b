#!/usr/bin/env bash
# For a machine with an NVIDIA GPU (e.g. a lent H200):
#   1. builds sp's CUDA kernels and the checker with nvcc only (no MLIR
#      needed), checks every kernel against the C++ reference and prints the
#      bandwidth table (bench/gpu/check.cu);
#   2. end to end: runs bench/gpu/e2e.mlir (every sp op) through
#      sp-lower-to-cuda with `sp-run --backend=cuda --ranks=1` and compares
#      its outputs with `--backend=cpu` (compare_outputs.py). sp-run needs
#      sp built on the machine (bash scripts/setup.sh); where it cannot run
#      (no MLIR, e.g. the lent H200 image), the same module compiled ahead of
#      time by bench/gpu/prepare-e2e.sh (build/gpu-e2e, brought along) is
#      run and compared the same way.
#   bash bench/gpu/check.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/../.."
NVCC=${NVCC:-/usr/local/cuda/bin/nvcc}
OUT=${OUT:-/tmp}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
"$NVCC" -std=c++17 -O3 --fmad=false -Iinclude -Iruntime/cuda \
  -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
  -gencode arch=compute_100,code=sm_100 \
  bench/gpu/check.cu runtime/cuda/Kernels.cu -o "$OUT/sp-gpu-check"
kernels=0
"$OUT/sp-gpu-check" "$@" | tee "$OUT/gpu-check.txt" || kernels=$?

echo
echo "== end to end: bench/gpu/e2e.mlir through sp-lower-to-cuda on one GPU =="
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
# NCCL: the toolkit's, else the one PyTorch's wheels bring.
if [ -z "${SP_NCCL_LIBRARY:-}" ] && ! ldconfig -p | grep -q libnccl.so.2 &&
   [ ! -e /usr/local/cuda/lib64/libnccl.so.2 ]; then
  nccl=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib", "libnccl.so.2"))' 2>/dev/null || true)
  [ -n "$nccl" ] && [ -e "$nccl" ] && export SP_NCCL_LIBRARY=$nccl
fi
SP_RUN=${SP_RUN:-build/bin/sp-run}
E2E=${E2E:-build/gpu-e2e/sp-gpu-e2e}
e2e=0
if "$SP_RUN" --help > /dev/null 2>&1; then
  echo "sp-run --backend=cuda --ranks=1 vs --backend=cpu"
  rm -rf "$OUT/e2e-cpu" "$OUT/e2e-cuda"
  "$SP_RUN" bench/gpu/e2e.mlir --backend=cpu --outputs="$OUT/e2e-cpu" > /dev/null
  # CUDA_RUNTIME=build/lib/libsp_cuda_runtime_emulated.so dry-runs this step
  # without a GPU.
  "$SP_RUN" bench/gpu/e2e.mlir --backend=cuda --outputs="$OUT/e2e-cuda" \
    ${CUDA_RUNTIME:+--cuda-runtime="$CUDA_RUNTIME"} > /dev/null || e2e=1
  # Bitwise: the all_reduce, the fused residuals and the collectives of them.
  python3 bench/gpu/compare_outputs.py "$OUT/e2e-cpu" "$OUT/e2e-cuda" \
    --exact 2,4,6,9 --max-ulps 1 | tee "$OUT/gpu-e2e.txt" || e2e=1
elif [ -x "$E2E" ]; then
  echo "$SP_RUN cannot run here (no MLIR): the module compiled ahead of time ($E2E)"
  LD_LIBRARY_PATH=$(dirname "$E2E"):$LD_LIBRARY_PATH "$E2E" | tee "$OUT/gpu-e2e.txt" || e2e=1
else
  echo "skipped: neither $SP_RUN nor $E2E runs here (build sp with scripts/setup.sh,"
  echo "or run bench/gpu/prepare-e2e.sh where sp is built and bring build/gpu-e2e)"
  e2e=1
fi
exit $(( kernels != 0 || e2e != 0 ))
