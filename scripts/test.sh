#!/usr/bin/env bash
# Runs every test: the lit suite (dialect, passes, plugin, integration) and
# the GoogleTest unit tests through lit. Expects scripts/setup.sh to have run.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${SP_BUILD_DIR:-build}
LOG=$(mktemp)

cmake --build "$BUILD_DIR" -j "${SP_JOBS:-2}" || exit 1
/usr/lib/llvm-22/bin/lit -sv "$BUILD_DIR/test" 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}

passed=$(sed -n 's/^ *Passed *: *\([0-9]*\).*/\1/p' "$LOG" | tail -1)
failed=$(sed -n 's/^ *Failed *: *\([0-9]*\).*/\1/p' "$LOG" | tail -1)
rm -f "$LOG"
echo "lit: ${passed:-0} passed, ${failed:-0} failed"
if [[ $status -ne 0 || -z "$passed" || "$passed" == 0 ]]; then
  echo "test.sh: FAILED" >&2
  exit 1
fi
