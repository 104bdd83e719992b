#!/usr/bin/env bash
# Compiles bench/gpu/e2e.mlir ahead of time for GPU machines that have no
# MLIR (such as the lent H200s, whose image lacks LLVM and OpenMPI, so
# sp-run cannot run there). Run it where sp is built:
#   bash bench/gpu/prepare-e2e.sh [--emulated]
# It writes build/gpu-e2e/: sp-gpu-e2e (bench/gpu/e2e_driver.cpp linked with
# e2e.mlir lowered by sp-lower-to-cpu and by sp-lower-to-cuda) and the
# runtime libraries it loads from its own folder. bench/gpu/check.sh runs it
# when sp-run cannot run. --emulated links the emulated CUDA runtime instead:
# a dry run on a machine without a GPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
LLVM_BIN=${LLVM_BIN:-/usr/lib/llvm-22/bin}
BUILD=${BUILD:-build}
OUT_DIR=${OUT_DIR:-$BUILD/gpu-e2e}
runtime=libsp_cuda_runtime.so
if [ "${1:-}" = "--emulated" ]; then
  runtime=libsp_cuda_runtime_emulated.so
fi
BUILD_LIB=$(cd "$BUILD/lib" && pwd)
rm -rf "$OUT_DIR" && mkdir -p "$OUT_DIR"
for variant in cpu cuda; do
  sed "s/@e2e(/@e2e_${variant}(/" bench/gpu/e2e.mlir > "$OUT_DIR/e2e_$variant.mlir"
done
# CPU: one rank, so canonicalization folds the collectives away.
"$BUILD/bin/sp-opt" "$OUT_DIR/e2e_cpu.mlir" --canonicalize --sp-lower-to-cpu -o "$OUT_DIR/e2e_cpu.llvm.mlir"
"$BUILD/bin/sp-opt" "$OUT_DIR/e2e_cuda.mlir" --sp-lower-to-cuda -o "$OUT_DIR/e2e_cuda.llvm.mlir"
for variant in cpu cuda; do
  "$LLVM_BIN/mlir-translate" --mlir-to-llvmir "$OUT_DIR/e2e_$variant.llvm.mlir" -o "$OUT_DIR/e2e_$variant.ll"
  "$LLVM_BIN/llc" -O2 -filetype=obj -relocation-model=pic "$OUT_DIR/e2e_$variant.ll" -o "$OUT_DIR/e2e_$variant.o"
done
cp "$BUILD/lib/$runtime" "$OUT_DIR/"
if [ "$runtime" = libsp_cuda_runtime.so ]; then
  cp "$BUILD/lib/libsp_cuda_kernels.so" "$OUT_DIR/"
fi
g++ -std=c++17 -O2 -ffp-contract=off -Iinclude bench/gpu/e2e_driver.cpp \
  "$OUT_DIR/e2e_cpu.o" "$OUT_DIR/e2e_cuda.o" "$OUT_DIR/$runtime" \
  -Wl,-rpath,'$ORIGIN' -Wl,-rpath,"$BUILD_LIB" -o "$OUT_DIR/sp-gpu-e2e"
echo "built $OUT_DIR/sp-gpu-e2e (runtime: $runtime)"
