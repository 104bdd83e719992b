#!/usr/bin/env bash
# The device check, sized for one 15-minute window on a lent GPU (e.g. an
# H200) including the build:
#   1. builds sp's CUDA kernels once with nvcc alone (no MLIR needed) for
#      the GPU's own architecture (all three shipped ones when it cannot be
#      told) and the checker bench/gpu/check.cu; runs it: every kernel set
#      (reference, fast, fast-software-fp8) bit for bit against
#      include/sp/Runtime/Numerics.h with the kernels' summation order
#      (runtime/cuda/KernelOrder.h) on random data, every bf16/f16 pattern
#      and every fp8 code, then the bandwidth table: both kernel sets side by
#      side, random inputs (FP8-saturating values included), buffers rotated
#      over 4x the L2, CUDA graphs, as a fraction of a device-to-device copy
#      measured in the same run;
#   2. collective matmul GEMMs (bench/gpu/collective_matmul.cu, cuBLASLt
#      configured as the runtime configures it);
#   3. end to end, once per kernel set: bench/gpu/e2e.mlir (every sp op)
#      through sp-lower-to-cuda on one GPU against the CPU lowering, with
#      its wall time per call. sp-run when it runs here, else the module
#      compiled ahead of time by bench/gpu/prepare-e2e.sh (build/gpu-e2e,
#      brought along: the lent machines have no MLIR).
#
#   bash bench/gpu/check.sh [--quick]
#   bash bench/gpu/check.sh --dry-run   # no GPU: what runs without one
#
# --dry-run builds the same binaries (all three architectures), runs the
# checker's host side (sp-gpu-check --dry-run: the reference model's own
# checks and every case's expected outputs) and step 3 against the emulated
# runtime (CUDA_RUNTIME, default build/lib/libsp_cuda_runtime_emulated.so,
# for sp-run; or a build/gpu-e2e prepared with --emulated). Nothing runs on
# a GPU then. Outputs: $OUT (default /tmp) gpu-check.txt,
# gpu-collective-matmul.txt, gpu-e2e-<set>.txt.
set -uo pipefail
cd "$(dirname "$0")/../.."
NVCC=${NVCC:-/usr/local/cuda/bin/nvcc}
OUT=${OUT:-/tmp}
mkdir -p "$OUT"
dry=0
args=()
for a in "$@"; do
  case "$a" in
    --dry-run) dry=1 ;;
    *) args+=("$a") ;;
  esac
done
start=$(date +%s)
stamp() { echo "[check.sh +$(( $(date +%s) - start ))s] $*"; }

arches="80 90 100"
if [ "$dry" = 0 ]; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv || true
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
  case "$cap" in
    80|90|100) arches=$cap ;;
  esac
fi
gencode=()
for a in $arches; do gencode+=(-gencode "arch=compute_$a,code=sm_$a"); done
flags=(-std=c++17 -O3 --fmad=false -Iinclude -Iruntime/cuda --threads 0 "${gencode[@]}")

stamp "building the kernels for sm_${arches// /, sm_}"
build=0
"$NVCC" "${flags[@]}" -c runtime/cuda/Kernels.cu -o "$OUT/sp-kernels.o" || build=1
"$NVCC" "${flags[@]}" bench/gpu/check.cu "$OUT/sp-kernels.o" -o "$OUT/sp-gpu-check" || build=1
if [ "$build" != 0 ]; then
  echo "check.sh: the kernels or the checker do not build"
  exit 1
fi

kernels=0
if [ "$dry" = 1 ]; then
  stamp "sp-gpu-check --dry-run (host side only)"
  "$OUT/sp-gpu-check" --dry-run "${args[@]}" | tee "$OUT/gpu-check.txt" || kernels=1
else
  stamp "sp-gpu-check: verification, then the bandwidth table"
  timeout 420 "$OUT/sp-gpu-check" "${args[@]}" | tee "$OUT/gpu-check.txt"
  kernels=${PIPESTATUS[0]}
fi

echo
stamp "collective matmul: cuBLASLt GEMMs, chunking and overlap (bench/gpu/collective_matmul.cu)"
gemms=0
"$NVCC" "${flags[@]}" bench/gpu/collective_matmul.cu "$OUT/sp-kernels.o" -lcublasLt \
  -o "$OUT/sp-collective-matmul-bench" || gemms=1
if [ "$gemms" = 0 ] && [ "$dry" = 0 ]; then
  LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-} \
    timeout 240 "$OUT/sp-collective-matmul-bench" "${args[@]}" | tee "$OUT/gpu-collective-matmul.txt"
  gemms=${PIPESTATUS[0]}
fi

echo
stamp "end to end: bench/gpu/e2e.mlir through sp-lower-to-cuda on one GPU, per kernel set"
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
# NCCL: the toolkit's, else the one PyTorch's wheels bring.
if [ -z "${SP_NCCL_LIBRARY:-}" ] && ! ldconfig -p | grep -q libnccl.so.2 &&
   [ ! -e /usr/local/cuda/lib64/libnccl.so.2 ]; then
  nccl=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib", "libnccl.so.2"))' 2>/dev/null || true)
  [ -n "$nccl" ] && [ -e "$nccl" ] && export SP_NCCL_LIBRARY=$nccl
fi
SP_RUN=${SP_RUN:-build/bin/sp-run}
E2E=${E2E:-build/gpu-e2e/sp-gpu-e2e}
if [ "$dry" = 1 ] && [ -z "${CUDA_RUNTIME:-}" ]; then
  CUDA_RUNTIME=build/lib/libsp_cuda_runtime_emulated.so
fi
e2e=0
for set in reference fast; do
  echo "-- SP_CUDA_KERNELS=$set"
  if "$SP_RUN" --help > /dev/null 2>&1; then
    echo "sp-run --backend=cuda --ranks=1 vs --backend=cpu"
    rm -rf "$OUT/e2e-cpu" "$OUT/e2e-cuda"
    "$SP_RUN" bench/gpu/e2e.mlir --backend=cpu --outputs="$OUT/e2e-cpu" > /dev/null || e2e=1
    SP_CUDA_KERNELS=$set timeout 240 "$SP_RUN" bench/gpu/e2e.mlir --backend=cuda \
      --outputs="$OUT/e2e-cuda" ${CUDA_RUNTIME:+--cuda-runtime="$CUDA_RUNTIME"} > /dev/null || e2e=1
    # Bitwise: the all_reduce, the fused residuals and the collectives of them.
    python3 bench/gpu/compare_outputs.py "$OUT/e2e-cpu" "$OUT/e2e-cuda" \
      --exact 2,4,6,9 --max-ulps 1 | tee "$OUT/gpu-e2e-$set.txt" || e2e=1
  elif [ -x "$E2E" ]; then
    echo "$SP_RUN cannot run here (no MLIR): the module compiled ahead of time ($E2E)"
    SP_CUDA_KERNELS=$set LD_LIBRARY_PATH=$(dirname "$E2E"):$LD_LIBRARY_PATH \
      timeout 240 "$E2E" | tee "$OUT/gpu-e2e-$set.txt"
    [ "${PIPESTATUS[0]}" = 0 ] || e2e=1
  else
    echo "skipped: neither $SP_RUN nor $E2E runs here (build sp with scripts/setup.sh,"
    echo "or run bench/gpu/prepare-e2e.sh where sp is built and bring build/gpu-e2e)"
    e2e=1
    break
  fi
done
stamp "done: kernels $kernels, collective matmul $gemms, end to end $e2e"
exit $(( kernels != 0 || gemms != 0 || e2e != 0 ))
