#!/usr/bin/env bash
# Runs every benchmark and rebuilds docs/Benchmarks.md from their tables.
#   bash bench/run_all.sh        (after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${SP_BUILD_DIR:-build}/venv/bin/python
$PY bench/compile_time.py
$PY bench/cpu_exec.py
$PY bench/gpu_model.py
$PY bench/collective_matmul.py
$PY bench/collective_crossover.py
$PY bench/cpu_codegen.py
{
  cat bench/README.md
  echo
  for name in compile_time compile_time_forms cpu_exec gpu_model collective_matmul collective_crossover cpu_codegen; do
    # Tables live in docs/bench/; make their image links relative to docs/.
    sed "s|(\(${name}\.png\))|(bench/\1)|" "docs/bench/${name}.md"
    echo
  done
} > docs/Benchmarks.md
echo "wrote docs/Benchmarks.md"
