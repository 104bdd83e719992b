"""Generates the same model flat, as a scan (scf.for) and as calls (one
private function per layer), rewrites each with sp-sequence-parallelism
and prints, per form, the collectives that run (the report's
"executed_after": each op times its loop's trip count and its function's
calls) and per executed layer. Exits non-zero when a form's executed
counts or bytes differ from the flat form's, or when a form leaves an
all_reduce behind.

usage: compare_forms.py SP_OPT TMPDIR [modelgen options...]"""
import json
import os
import subprocess
import sys

sp_opt, tmp, options = sys.argv[1], sys.argv[2], sys.argv[3:]
os.makedirs(tmp, exist_ok=True)
layers = int(options[options.index("--layers") + 1])
keys = ("all_reduce", "reduce_scatter", "all_gather", "bytes_per_rank")
counts = {}
for form in ("flat", "scan", "calls"):
    model = os.path.join(tmp, f"{form}.mlir")
    report = os.path.join(tmp, f"{form}.json")
    flags = [] if form == "flat" else [f"--{form}"]
    subprocess.run([sys.executable, "-m", "sp_tools.modelgen", *options, *flags,
                    "-o", model], check=True)
    subprocess.run([sp_opt, model, f"--sp-sequence-parallelism=report={report}",
                    "-o", os.devnull], check=True, capture_output=True)
    with open(report) as f:
        data = json.load(f)
    executed = data["executed_after"]
    counts[form] = tuple(executed[k] for k in keys)
    static = data["after"]
    # The embedding's site runs once; every layer runs the rest.
    per_layer = (executed["reduce_scatter"] - 1) / layers
    print(f"{form}: executed {executed['all_reduce']} all_reduce, "
          f"{executed['reduce_scatter']} reduce_scatter, "
          f"{executed['all_gather']} all_gather, "
          f"{executed['bytes_per_rank']} bytes per rank; "
          f"{per_layer:g} reduce_scatter per layer; in the module "
          f"{static['reduce_scatter']} reduce_scatter, "
          f"{static['all_gather']} all_gather; "
          f"{len(data['carried'])} boundaries carried")
same = all(counts[f] == counts["flat"] for f in counts)
clean = all(counts[f][0] == 0 for f in counts)
print("forms: " + ("same executed collectives and bytes"
                   if same and clean else "DIFFER"))
sys.exit(0 if same and clean else 1)
