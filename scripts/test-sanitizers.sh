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
[[ $status -eq 0 && -n "$passed" ]] || { echo "test-sanitizers.sh: lit FAILED" >&2; exit 1; }

# The Python tests too, driving the instrumented sp-opt / sp-run (the venv
# comes from scripts/setup.sh).
VENV=${SP_BUILD_DIR:-build}/venv
pypassed=0
if [[ -x "$VENV/bin/pytest" ]]; then
  LOG=$(mktemp)
  SP_BUILD_DIR="$BUILD_DIR" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allow_user_poisoning=0 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$VENV/bin/pytest" -q python/tests 2>&1 | tee "$LOG"
  pystatus=${PIPESTATUS[0]}
  pypassed=$(grep -oE '[0-9]+ passed' "$LOG" | tail -1 | grep -oE '[0-9]+')
  rm -f "$LOG"
  [[ $pystatus -eq 0 ]] || { echo "test-sanitizers.sh: pytest FAILED" >&2; exit 1; }
fi
echo "sanitizers: $(( passed + ${pypassed:-0} )) passed, ${failed:-0} failed"
