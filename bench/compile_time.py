"""Compile time of sp-sequence-parallelism on generated Llama-like models.

Method: for each depth, sp-opt parses the model, runs the pass and prints
the result with --mlir-timing; the pass's wall time is reported as a
multiple of parse + print time *in the same run* (a ratio is robust on a
noisy machine), with the median over --repeat runs. Both pattern sets are
measured: the PDLL patterns (default, interpreted by MLIR's PDL bytecode)
and the same rewrites written as C++ patterns (the test pass
test-sp-sequence-parallelism-cpp, same planner and driver), giving the cost
of PDL per rewritten op. Goal: pass <= 0.5x parse+print, linear in the
model size.

Control-flow forms (#15): the same models as a scan (one scf.for over
stacked weights) and as calls (one private function per layer), rewritten
with the boundaries carried on local rows, against the flat form: the
pass's wall time, the module's op count and the executed collectives (the
report's executed_after). Written to docs/bench/compile_time_forms.md.

    build/venv/bin/python bench/compile_time.py [--repeat 5] [--max-layers 1024]
    build/venv/bin/python bench/compile_time.py --forms-only [--repeat 3] [--max-layers 256]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
from pathlib import Path

from common import pyplot, run, tools, write_table

from sp_tools import modelgen

_TIMING = re.compile(r"^\s+([0-9.]+) \(\s*[0-9.]+%\)\s+(\S.*)$", re.M)


def measure(sp_opt: str, path: Path, patterns: str) -> dict[str, float]:
    # The C++ patterns live in a test pass (test/lib) that shares the
    # planner and the driver with sp-sequence-parallelism.
    flag, name = (("--sp-sequence-parallelism", "SPSequenceParallelism")
                  if patterns == "pdll" else
                  ("--test-sp-sequence-parallelism-cpp", "TestSequenceParallelismCpp"))
    out = run([sp_opt, str(path), flag, "--mlir-timing", "-o", "/dev/null"])
    times = {name.strip(): float(t) for t, name in _TIMING.findall(out.stderr)}
    return {"parse": times["Parser"], "pass": times[name],
            "print": times["Output"]}


def measure_forms(sp_opt: str, repeat: int, max_layers: int) -> None:
    """Flat, scan and call forms of the same model: pass time, module size,
    collectives that run."""
    depths = [d for d in (8, 64, 256, 1024) if d <= max_layers]
    rows, results = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for layers in depths:
            for form in ("flat", "scan", "calls"):
                path = Path(tmp) / f"{form}{layers}.mlir"
                path.write_text(modelgen.generate(modelgen.ModelConfig(
                    layers=layers, tokens=2048, hidden=8192, intermediate=28672,
                    tp=8, fp8=True, form=form)))
                ops = path.read_text().count(" = ")
                samples = [measure(sp_opt, path, "pdll") for _ in range(repeat)]
                pass_ms = statistics.median(s["pass"] for s in samples) * 1e3
                base_ms = statistics.median(s["parse"] + s["print"] for s in samples) * 1e3
                report = Path(tmp) / "report.json"
                run([sp_opt, str(path), f"--sp-sequence-parallelism=report={report}",
                     "-o", "/dev/null"])
                data = json.loads(report.read_text())
                executed, static = data["executed_after"], data["after"]
                results.setdefault(form, []).append((layers, pass_ms))
                rows.append([form, layers, ops, f"{base_ms:.1f}", f"{pass_ms:.1f}",
                             f"{pass_ms / base_ms:.2f}x", len(data["carried"]),
                             f"{static['reduce_scatter']} / {static['all_gather']}",
                             f"{executed['all_reduce']} / {executed['reduce_scatter']} / "
                             f"{executed['all_gather']}", executed["bytes_per_rank"]])
                print(rows[-1], flush=True)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for form, marker in (("flat", "o-"), ("scan", "s-"), ("calls", "^-")):
        ax.loglog([r[0] for r in results[form]], [r[1] for r in results[form]],
                  marker, label=form)
    ax.set_xlabel("layers")
    ax.set_ylabel("pass wall time (ms, median)")
    ax.set_title("sp-sequence-parallelism by model form")
    ax.legend()
    fig.tight_layout()
    from common import OUT
    fig.savefig(OUT / "compile_time_forms.png", dpi=110)
    write_table(
        "compile_time_forms",
        "Compile time by model form (flat, scan, calls)",
        "The same generated models (FP8, 2048 tokens, hidden 8192, TP 8) as "
        "one flat function, as one scf.for over stacked weights (scan) and as "
        "one private function called per layer (calls); median of "
        f"{repeat} runs of `sp-opt --sp-sequence-parallelism --mlir-timing`. "
        "Ratio = pass time / (parse + print time) of the same run. In the "
        "module: reduce_scatter / all_gather ops after the rewrite. Executed: "
        "all_reduce / reduce_scatter / all_gather that run, from the report's "
        "executed_after (each op times its loop's trip count and its "
        "function's calls); bytes per rank likewise.",
        ["form", "layers", "ops", "parse+print ms", "pass ms", "ratio",
         "boundaries carried", "in the module: RS / AG",
         "executed: AR / RS / AG", "executed bytes per rank"],
        rows, "build/venv/bin/python bench/compile_time.py --forms-only")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--max-layers", type=int, default=1024)
    parser.add_argument("--forms-only", action="store_true",
                        help="only the flat/scan/calls comparison")
    args = parser.parse_args()
    sp_opt = tools.find_tool("sp-opt")
    if args.forms_only:
        measure_forms(sp_opt, args.repeat, args.max_layers)
        return
    depths = [d for d in (8, 16, 32, 64, 128, 256, 512, 1024) if d <= args.max_layers]
    rows, results = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for layers in depths:
            path = Path(tmp) / f"m{layers}.mlir"
            path.write_text(modelgen.generate(modelgen.ModelConfig(
                layers=layers, tokens=2048, hidden=8192, intermediate=28672, tp=8, fp8=True)))
            ops = path.read_text().count(" = ")
            entry = {"layers": layers, "ops": ops}
            for patterns in ("pdll", "cpp"):
                samples = [measure(sp_opt, path, patterns) for _ in range(args.repeat)]
                ratio = statistics.median(s["pass"] / (s["parse"] + s["print"]) for s in samples)
                pass_ms = statistics.median(s["pass"] for s in samples) * 1e3
                base_ms = statistics.median(s["parse"] + s["print"] for s in samples) * 1e3
                entry[patterns] = (ratio, pass_ms, base_ms)
            results.append(entry)
            sites = 2 * layers + 1
            pdll_us = entry["pdll"][1] * 1e3 / sites
            cpp_us = entry["cpp"][1] * 1e3 / sites
            rows.append([layers, ops, f"{entry['pdll'][2]:.1f}", f"{entry['pdll'][1]:.1f}",
                         f"{entry['pdll'][0]:.2f}x", f"{entry['cpp'][1]:.1f}",
                         f"{entry['cpp'][0]:.2f}x", f"{pdll_us:.1f}", f"{cpp_us:.1f}"])
            print(rows[-1], flush=True)

    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    layers = [r["layers"] for r in results]
    left.loglog(layers, [r["pdll"][1] for r in results], "o-", label="pass (PDLL)")
    left.loglog(layers, [r["cpp"][1] for r in results], "s-", label="pass (C++ patterns)")
    left.loglog(layers, [r["pdll"][2] for r in results], "^-", label="parse + print")
    left.set_xlabel("layers")
    left.set_ylabel("wall time (ms, median)")
    left.set_title("time vs model depth (log-log; slope 1 = linear)")
    left.legend()
    right.semilogx(layers, [r["pdll"][0] for r in results], "o-", label="PDLL")
    right.semilogx(layers, [r["cpp"][0] for r in results], "s-", label="C++ patterns")
    right.axhline(0.5, color="gray", ls="--", label="goal 0.5x")
    right.set_xlabel("layers")
    right.set_ylabel("pass / (parse + print)")
    right.set_title("pass time relative to parse + print, same run")
    right.legend()
    fig.tight_layout()
    from common import OUT
    fig.savefig(OUT / "compile_time.png", dpi=110)
    write_table(
        "compile_time",
        "Compile time of sp-sequence-parallelism",
        "Generated Llama-like models (FP8, 2048 tokens, hidden 8192, TP 8); "
        f"median of {args.repeat} runs of `sp-opt --sp-sequence-parallelism --mlir-timing`. "
        "Ratio = pass time / (parse + print time) of the same run. Per-site cost = "
        "pass time / number of all_reduce sites (2L+1).",
        ["layers", "ops", "parse+print ms", "pass ms (PDLL)", "ratio (PDLL)",
         "pass ms (C++)", "ratio (C++)", "µs/site (PDLL)", "µs/site (C++)"],
        rows, "build/venv/bin/python bench/compile_time.py")
    measure_forms(sp_opt, args.repeat, args.max_layers)


if __name__ == "__main__":
    main()
