#!/usr/bin/env bash
# For a machine with an NVIDIA GPU (e.g. a lent H200): builds sp's CUDA
# kernels and the checker with nvcc only (no MLIR needed), checks every
# kernel against the C++ reference, and prints the bandwidth table.
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
"$OUT/sp-gpu-check" "$@" | tee "$OUT/gpu-check.txt"
