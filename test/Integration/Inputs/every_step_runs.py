"""Runs `sp-run --compare=sp-sequence-parallelism{max-rewrites=N}` for every
N until the program is the complete rewrite's (every site split and every
planned op sunk); every intermediate program must compute exactly what the
original does. Extra arguments go to sp-run (e.g. --tokens=3,4 for a model
with a dynamic token count: every count is compared)."""
import json
import subprocess
import sys

sp_opt, sp_run, model, ranks = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
extra = sys.argv[5:]
complete = subprocess.run([sp_opt, model, "--sp-sequence-parallelism"],
                          capture_output=True, text=True).stdout
step = 0
while True:
    report = subprocess.run(
        [sp_opt, model, f"--sp-sequence-parallelism=max-rewrites={step}",
         "--sp-report=-"], capture_output=True, text=True)
    if report.returncode != 0:
        sys.exit(f"step {step}: sp-opt failed:\n{report.stderr}")
    report_end = report.stdout.index("\n}\n") + 3
    sites = json.loads(report.stdout[:report_end])["sites"]
    program = report.stdout[report_end:]
    run = subprocess.run(
        [sp_run, model, f"--ranks={ranks}",
         f"--compare=sp-sequence-parallelism{{max-rewrites={step}}}"] + extra,
        capture_output=True, text=True)
    matched = "outputs match" in run.stdout or "bitwise equal before and after" in run.stdout
    if run.returncode != 0 or not matched:
        sys.exit(f"step {step}: differs or failed:\n{run.stdout}\n{run.stderr}")
    if sites["not_reached"] == 0 and program == complete:
        break
    step += 1
print(f"all {step + 1} intermediate programs match the original")
