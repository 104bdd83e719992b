#!/usr/bin/env bash
# Builds sp with AddressSanitizer + UndefinedBehaviorSanitizer into
# build-asan/ and runs the whole lit suite (dialect, passes, plugin, CPU
# execution on MPI ranks, unit tests) under them. Needs scripts/setup.sh's
# packages.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${SP_ASAN_BUILD_DIR:-build-asan}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSP_ENABLE_SANITIZERS=ON -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit \
  -DPython3_EXECUTABLE="$(command -v python3)" > /dev/null || exit 1
cmake --build "$BUILD_DIR" -j "${SP_JOBS:-2}" || exit 1
LOG=$(mktemp)
/usr/lib/llvm-22/bin/lit -sv "$BUILD_DIR/test" 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
passed=$(sed -n 's/^ *Passed *: *\([0-9]*\).*/\1/p' "$LOG" | tail -1)
failed=$(sed -n 's/^ *Failed *: *\([0-9]*\).*/\1/p' "$LOG" | tail -1)
rm -f "$LOG"
echo "sanitizers: ${passed:-0} passed, ${failed:-0} failed"
[[ $status -eq 0 && -n "$passed" ]] || { echo "test-sanitizers.sh: FAILED" >&2; exit 1; }
