#!/usr/bin/env bash
# Builds the libFuzzer harness with clang-22 (+ ASan/UBSan) into build-fuzz/
# and fuzzes the sp dialect and sp-sequence-parallelism for SECONDS
# (default 120), seeded from every lit test input. Findings land in
# build-fuzz/findings/; copy each into fuzz/regressions/ once fixed.
#   bash scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-120}
BUILD_DIR=${SP_FUZZ_BUILD_DIR:-build-fuzz}
if ! command -v clang++-22 >/dev/null; then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  # clang-22 comes from the same apt source as LLVM/MLIR 22 (DESIGN.md).
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends clang-22 libclang-rt-22-dev
fi
CC=clang-22 CXX=clang++-22 cmake -S . -B "$BUILD_DIR" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DSP_ENABLE_FUZZER=ON \
  -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit \
  -DPython3_EXECUTABLE="$(command -v python3)" > /dev/null
cmake --build "$BUILD_DIR" -j "${SP_JOBS:-2}" --target sp-fuzz
rm -rf "$BUILD_DIR/seeds" && mkdir -p "$BUILD_DIR/corpus" "$BUILD_DIR/findings"
python3 fuzz/make_corpus.py "$BUILD_DIR/seeds"
# allow_user_poisoning=0: sp's code is instrumented, Debian's libMLIR is not,
# and both allocate from the same llvm::BumpPtrAllocator slabs; the
# instrumented inline allocator poisons a new slab that libMLIR's
# uninstrumented copy then fills without unpoisoning: a false
# use-after-poison (seen once, non-reproducible, in StringAttr::get).
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allow_user_poisoning=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
set +e
"$BUILD_DIR/bin/sp-fuzz" -max_total_time="$SECONDS_TO_RUN" -timeout=20 \
  -rss_limit_mb=4096 -dict=fuzz/sp.dict -print_final_stats=1 \
  -artifact_prefix="$BUILD_DIR/findings/" \
  "$BUILD_DIR/corpus" "$BUILD_DIR/seeds" 2>&1 | tee "$BUILD_DIR/fuzz.log" | grep -E "^#|stat::|ERROR|sp-fuzz:|Done" | tail -20
status=${PIPESTATUS[0]}
set -e
findings=$(ls "$BUILD_DIR/findings" | wc -l)
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$BUILD_DIR/fuzz.log" | tail -1)
echo "fuzz: ${runs:-0} inputs tried in ${SECONDS_TO_RUN}s, ${findings} findings"
[[ $status -eq 0 && $findings -eq 0 ]]
