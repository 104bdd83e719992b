#!/usr/bin/env bash
# Runs every test: the lit suite (dialect, passes, plugin, integration) and
# the GoogleTest unit tests through lit. Expects scripts/setup.sh to have run.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${SP_BUILD_DIR:-build}
LOG=$(mktemp)

cmake --build "$BUILD_DIR" -j "${SP_JOBS:-2}" || exit 1
# SP_LONG_TESTS=1 also runs the real-size tests (REQUIRES: long-tests).
/usr/lib/llvm-22/bin/lit -sv ${SP_LONG_TESTS:+--param long_tests=1} "$BUILD_DIR/test" 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}

passed=$(sed -n 's/^ *Passed *: *\([0-9]*\).*/\1/p' "$LOG" | tail -1)
failed=$(sed -n 's/^ *Failed *: *\([0-9]*\).*/\1/p' "$LOG" | tail -1)
echo "lit: ${passed:-0} passed, ${failed:-0} failed"
if [[ $status -ne 0 || -z "$passed" || "$passed" == 0 ]]; then
  rm -f "$LOG"
  echo "test.sh: lit FAILED" >&2
  exit 1
fi

# The Python package's tests (they drive the built sp-opt / sp-run).
SP_BUILD_DIR="$BUILD_DIR" "$BUILD_DIR/venv/bin/pytest" -q python/tests 2>&1 | tee "$LOG"
pystatus=${PIPESTATUS[0]}
pypassed=$(grep -oE '[0-9]+ passed' "$LOG" | tail -1 | grep -oE '[0-9]+')
pyfailed=$(grep -oE '[0-9]+ failed' "$LOG" | tail -1 | grep -oE '[0-9]+')
rm -f "$LOG"
if [[ $pystatus -ne 0 || -z "$pypassed" ]]; then
  echo "test.sh: pytest FAILED" >&2
  exit 1
fi
echo "all: $(( passed + pypassed )) passed, $(( ${failed:-0} + ${pyfailed:-0} )) failed"
