#!/usr/bin/env bash
# The main job: the bundled example model (4-layer Llama-like, TP 4, bf16 with
# FP8 quant) before and after sequence parallelism, with the pass's report;
# then both versions run on 4 CPU ranks (MPI processes) on the same inputs
# and their outputs are compared bit for bit; then the GEMMs are fused with
# the gathers and scatters beside them (collective matmul), written out as
# pipelined loops, and run against the unfused program; last, the fused
# model is lowered for GPUs (the NCCL calls, kernel launches and pipelined
# cuBLASLt GEMMs it makes) and that lowering is run through the emulated
# CUDA runtime against the CPU path.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${SP_BUILD_DIR:-build}
SP_OPT="$BUILD_DIR/bin/sp-opt"
MODEL=examples/llama-tp4.mlir
OUT=$(mktemp -d)

count() { grep -c "sp\.$1 " "$2" || true; }
summary() {
  printf '  %-16s %s\n' all_reduce "$(count all_reduce "$1")" \
    reduce_scatter "$(count reduce_scatter "$1")" \
    all_gather "$(count all_gather "$1")" all_slice "$(count all_slice "$1")"
}

echo "== $MODEL (before): collectives"
summary "$MODEL"
echo
echo "== sp-opt --sp-sequence-parallelism --canonicalize"
"$SP_OPT" "$MODEL" --sp-sequence-parallelism --canonicalize \
  --sp-report="$OUT/report.json" -o "$OUT/after.mlir"
echo "== after: collectives"
summary "$OUT/after.mlir"
echo
echo "== first layer after the rewrite"
sed -n '/func.func/,/sp.all_gather.*f8E4M3FN/p' "$OUT/after.mlir" | cut -c1-160 | head -16
echo "    ..."
echo
echo "== report ($OUT/report.json)"
python3 - "$OUT/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
b, a = r["before"], r["after"]
print(f"  sites rewritten: {r['sites']['rewritten']} of {r['sites']['all_reduce']}")
print(f"  collective bytes per rank: {b['bytes_per_rank']} -> {a['bytes_per_rank']}"
      f" ({a['bytes_per_rank'] / b['bytes_per_rank']:.2f}x)")
PY
echo
echo "== sp-run: before vs after on 4 CPU ranks (MPI), same inputs"
"$BUILD_DIR/bin/sp-run" "$MODEL" --ranks=4 \
  --compare=sp-sequence-parallelism,canonicalize
echo
echo "== sp-opt --sp-collective-matmul: GEMMs fused with the gather before / scatter after them"
"$SP_OPT" "$OUT/after.mlir" --sp-collective-matmul=report="$OUT/fused.json" \
  -o "$OUT/fused.mlir" 2> "$OUT/fused.remarks"
python3 - "$OUT/fused.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["sites"]
print(f"  {s['all_gather_matmul']} sp.all_gather_matmul + {s['matmul_reduce_scatter']} "
      f"sp.matmul_reduce_scatter (2 + 2 per layer); {s['left_alone']} collectives left alone:")
for site in r["left_alone"]:
    print(f"    {site['op']}: {site['reason']}")
print(f"  collective bytes per rank unchanged: {r['before']['bytes_per_rank']} -> "
      f"{r['after']['bytes_per_rank']}")
PY
grep -m2 -E "sp\.(all_gather_matmul|matmul_reduce_scatter) " "$OUT/fused.mlir" | cut -c1-160
echo
echo "== sp-decompose-collective-matmul: the first pipelined loop (GEMM between a transfer's start and use)"
"$SP_OPT" "$OUT/fused.mlir" --sp-decompose-collective-matmul --canonicalize -o "$OUT/pipelined.mlir"
sed -n '/scf.for/,/scf.yield/p' "$OUT/pipelined.mlir" | grep -E "scf.for|ring_shift|linalg.matmul|insert_slice|scf.yield" \
  | head -6 | cut -c1-150
echo
echo "== sp-run: sequence parallelism alone vs + fused + pipelined (MPI_Isend/Irecv), 4 CPU ranks"
# (The remarks of the pipeline went to stderr; shown above already.)
"$BUILD_DIR/bin/sp-run" "$OUT/after.mlir" --ranks=4 \
  --compare=sp-collective-matmul,sp-decompose-collective-matmul 2> "$OUT/run.err" \
  || { cat "$OUT/run.err"; exit 1; }
echo
echo "== sp-opt --sp-lower-to-cuda: what the fused model calls on GPUs"
"$SP_OPT" "$OUT/fused.mlir" --sp-lower-to-cuda -o "$OUT/cuda.mlir"
grep -o "llvm.call @sp_cuda_rt_[a-zA-Z0-9_]*" "$OUT/cuda.mlir" | sed 's/llvm.call @//' \
  | sort | uniq -c | sed 's/^/  /'
echo "  (reduce_scatter/all_gather: NCCL; *_matmul_*: cuBLASLt GEMMs pipelined with"
echo "   NCCL send/recv; *norm*: sp's CUDA kernels; kernel_twin: before each launch of"
echo "   a GPU kernel compiled by upstream's GPU path, here the activations, whose"
echo "   host twin runs where there is no GPU; device_alloc/free, argument_to_device,"
echo "   result_to_host: device-resident buffers, one copy per input and output)"
echo "  GPU kernel launches: $(grep -c '^ *gpu.launch_func' "$OUT/cuda.mlir"), in $(grep -c '^  gpu.binary' "$OUT/cuda.mlir") gpu.binary ops"
echo
echo "== sp-run --backend=cuda, emulated runtime (no GPU here): same outputs as the CPU path?"
"$BUILD_DIR/bin/sp-run" "$OUT/fused.mlir" --ranks=4 --outputs="$OUT/cpu" > /dev/null
"$BUILD_DIR/bin/sp-run" "$OUT/fused.mlir" --ranks=4 --outputs="$OUT/cuda" --backend=cuda \
  --cuda-runtime="$BUILD_DIR/lib/libsp_cuda_runtime_emulated.so" > /dev/null
if diff -r "$OUT/cpu" "$OUT/cuda" > /dev/null; then
  echo "  CUDA lowering (emulated) == CPU lowering, bit for bit, on all 4 ranks"
else
  echo "  CUDA lowering (emulated) DIFFERS from the CPU lowering"
  exit 1
fi
