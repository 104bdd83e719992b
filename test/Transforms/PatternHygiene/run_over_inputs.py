"""Runs sp-opt --sp-sequence-parallelism=check-patterns=true on every chunk
of every .mlir file under a directory and on generated models. Inputs that
are invalid on purpose fail to parse or verify; that is fine. A crash or a
hygiene violation is not."""
import json
import os
import subprocess
import sys

sp_opt, root, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, os.path.join(root, "..", "python"))
from sp_tools import modelgen  # noqa: E402

os.makedirs(tmp, exist_ok=True)
inputs = []
for directory, _, files in os.walk(root):
    inputs += [os.path.join(directory, f) for f in sorted(files) if f.endswith(".mlir")]
for i, cfg in enumerate([
        modelgen.ModelConfig(layers=3), modelgen.ModelConfig(layers=3, fp8=True),
        modelgen.ModelConfig(layers=2, embedding="replicated", dtype="f16"),
        modelgen.ModelConfig(layers=2, fp8=True, return_residual=True),
        modelgen.ModelConfig(layers=1, dynamic_tokens=True)]):
    path = os.path.join(tmp, f"model{i}.mlir")
    with open(path, "w") as f:
        f.write(modelgen.generate(cfg))
    inputs.append(path)

violations = rewrites = 0
for path in inputs:
    report = os.path.join(tmp, "report.json")
    for check in (True, False):
        run = subprocess.run(
            [sp_opt, path, "--split-input-file", "--allow-unregistered-dialect",
             f"--sp-sequence-parallelism=check-patterns={'true' if check else 'false'}",
             f"--sp-report={report}", "-o", "/dev/null"],
            capture_output=True, text=True)
        if run.returncode < 0:
            print(f"CRASH ({run.returncode}) on {path}:\n{run.stderr[-2000:]}")
            violations += 1
        if "pattern hygiene" in run.stderr:
            print(f"VIOLATION on {path}:\n{run.stderr}")
            violations += 1
        if check and os.path.exists(report):
            with open(report) as f:
                rewrites += json.load(f)["sites"]["rewritten"]
            os.remove(report)
print(f"hygiene: {len(inputs)} inputs, {rewrites} rewrites checked, {violations} violations")
sys.exit(1 if violations else 0)
