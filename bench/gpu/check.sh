#!/usr/bin/env bash
# For a machine with an NVIDIA GPU (e.g. a lent H200):
#   1. builds sp's CUDA kernels and the checker with nvcc only (no MLIR
#      needed), checks every kernel against the C++ reference and prints the
#      bandwidth table (bench/gpu/check.cu);
#   2. end to end: runs bench/gpu/e2e.mlir (every sp op) through
#      sp-lower-to-cuda with `sp-run --backend=cuda --ranks=1` and compares
#      its outputs with `--backend=cpu` (compare_outputs.py). This step needs
#      sp built (bash scripts/setup.sh, or a build/ carried to the machine)
#      and says so when it is not.
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
echo "== end to end: sp-run --backend=cuda --ranks=1 bench/gpu/e2e.mlir =="
SP_RUN=${SP_RUN:-build/bin/sp-run}
if ! "$SP_RUN" --help > /dev/null 2>&1; then
  echo "skipped: $SP_RUN does not run here (build sp first: bash scripts/setup.sh)"
  exit "$kernels"
fi
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
rm -rf "$OUT/e2e-cpu" "$OUT/e2e-cuda"
"$SP_RUN" bench/gpu/e2e.mlir --backend=cpu --outputs="$OUT/e2e-cpu" > /dev/null
# CUDA_RUNTIME=build/lib/libsp_cuda_runtime_emulated.so dry-runs this step
# without a GPU.
"$SP_RUN" bench/gpu/e2e.mlir --backend=cuda --outputs="$OUT/e2e-cuda" \
  ${CUDA_RUNTIME:+--cuda-runtime="$CUDA_RUNTIME"} > /dev/null
e2e=0
# Bitwise: the all_reduce, the fused residuals and the collectives of them.
python3 bench/gpu/compare_outputs.py "$OUT/e2e-cpu" "$OUT/e2e-cuda" \
  --exact 2,4,6,9 --max-ulps 1 | tee "$OUT/gpu-e2e.txt" || e2e=1
exit $(( kernels != 0 || e2e != 0 ))
