import os
import subprocess
import sys

sp_opt, directory = sys.argv[1], sys.argv[2]
names = sorted(os.listdir(directory))
for name in names:
    run = subprocess.run([sp_opt, os.path.join(directory, name),
                          "--sp-sequence-parallelism=check-patterns=true",
                          "--canonicalize", "--sp-convert-to-cuda-runtime",
                          "-o", "/dev/null"],
                         capture_output=True, text=True)
    if run.returncode not in (0, 1) or "pattern hygiene" in run.stderr \
            or "internal error" in run.stderr:
        sys.exit(f"{name}: exit {run.returncode}\n{run.stderr[-3000:]}")
print(f"regressions: {len(names)} inputs, no crash")
