"""Runs `sp-run --compare=sp-sequence-parallelism{max-rewrites=N}` for every
N until the rewrite is complete; every intermediate program must compute
exactly what the original does."""
import json
import subprocess
import sys

sp_opt, sp_run, model, ranks = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
step = 0
while True:
    report = subprocess.run(
        [sp_opt, model, f"--sp-sequence-parallelism=max-rewrites={step}",
         "--sp-report=-", "-o", "/dev/null"], capture_output=True, text=True)
    if report.returncode != 0:
        sys.exit(f"step {step}: sp-opt failed:\n{report.stderr}")
    sites = json.loads(report.stdout)["sites"]
    run = subprocess.run(
        [sp_run, model, f"--ranks={ranks}",
         f"--compare=sp-sequence-parallelism{{max-rewrites={step}}}"],
        capture_output=True, text=True)
    if run.returncode != 0 or "outputs match" not in run.stdout:
        sys.exit(f"step {step}: differs or failed:\n{run.stdout}\n{run.stderr}")
    if sites["not_reached"] == 0 and step > 0:
        break
    step += 1
print(f"all {step + 1} intermediate programs match the original")
