"""Runs sp-sequence-parallelism stopped after 0, 1, 2, ... pattern
applications until the program is the complete rewrite's (every site split
and every planned op sunk), and checks that every intermediate program
verifies (sp-opt verifies after each pass and again when it parses the
printed result back)."""
import json
import subprocess
import sys

sp_opt, model = sys.argv[1], sys.argv[2]
complete = subprocess.run(
    [sp_opt, model, "--sp-sequence-parallelism", "--mlir-print-op-generic"],
    capture_output=True, text=True).stdout
step = 0
while True:
    run = subprocess.run(
        [sp_opt, model, f"--sp-sequence-parallelism=max-rewrites={step}",
         "--sp-report=-", "--mlir-print-op-generic"],
        capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"step {step}: sp-opt failed:\n{run.stderr}")
    report_end = run.stdout.index("\n}\n") + 3
    report = json.loads(run.stdout[:report_end])
    again = subprocess.run([sp_opt, "-", "-o", "/dev/null"],
                           input=run.stdout[report_end:], capture_output=True,
                           text=True)
    if again.returncode != 0:
        sys.exit(f"step {step}: output does not verify:\n{again.stderr}")
    if report["sites"]["not_reached"] == 0 and run.stdout[report_end:] == complete:
        break
    step += 1
    if step > 10000:
        sys.exit("no fixpoint")
print(f"sites: {report['sites']['rewritten']}, intermediate programs checked: {step + 1}, all valid")
