"""CPU execution: what sequence parallelism changes per rank.

Method (all numbers from one run of this script, medians of --repeat calls
measured by `sp-run --repeat`, slowest rank):

1. Norm time per rank: a fused add + RMSNorm + FP8 quant on the rows one rank
   processes, N before the rewrite and N/TP after, run alone on 1 rank (no
   communication), so the ratio isolates the norm's work.
2. Residual bytes per rank: the residual stream tensor each rank holds
   between layers, read from the IR before and after the rewrite.
3. End to end on TP CPU ranks (MPI processes on this machine): a 4-layer
   chain all_reduce -> fused add + RMSNorm -> quant, before and after
   `sp-sequence-parallelism,canonicalize` (bitwise equal outputs, checked).
   Collectives here are MPI over shared memory on a 2-core machine, not
   NVLink: this measures the CPU path, not a GPU.

    build/venv/bin/python bench/cpu_exec.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

from common import OUT, pyplot, run, tools, write_table

HIDDEN = 2048
EPS = "1.0e-05"


def norm_module(rows: int) -> str:
    t = f"tensor<{rows}x{HIDDEN}xbf16>"
    w = f"tensor<{HIDDEN}xbf16>"
    q = f"tensor<{rows}x{HIDDEN}xf8E4M3FN>"
    return f"""func.func @norm(%x: {t}, %r: {t}, %w: {w}, %s: tensor<f32>) -> ({q}, {t}) {{
  %o, %res = sp.fused_add_rms_norm %x, %r, %w epsilon = {EPS} : {t}, {w}
  %q = sp.quant %o, %s : {t} -> {q}
  return %q, %res : {q}, {t}
}}
"""


def chain_module(tokens: int, tp: int, layers: int = 4) -> str:
    t = f"tensor<{tokens}x{HIDDEN}xbf16>"
    w = f"tensor<{HIDDEN}xbf16>"
    q = f"tensor<{tokens}x{HIDDEN}xf8E4M3FN>"
    args = [f"%res0: {t} {{sp.replicated}}", f"%w: {w} {{sp.replicated}}",
            "%s: tensor<f32> {sp.replicated}"]
    body, outs = [], []
    res = "%res0"
    for i in range(layers):
        args.append(f"%p{i}: {t}")
        body.append(f"  %h{i} = sp.all_reduce %p{i} over @tp : {t}")
        body.append(f"  %o{i}, %res{i + 1} = sp.fused_add_rms_norm %h{i}, {res}, %w epsilon = {EPS} : {t}, {w}")
        body.append(f"  %q{i} = sp.quant %o{i}, %s : {t} -> {q}")
        res = f"%res{i + 1}"
        outs.append(f"%q{i}")
    return (f"sp.group @tp size({tp})\n"
            f"func.func @chain({', '.join(args)}) -> ({', '.join([q] * layers)}) {{\n"
            + "\n".join(body)
            + f"\n  return {', '.join(outs)} : {', '.join([q] * layers)}\n}}\n")


def ms(result: tools.RunResult, key: str) -> float:
    """Median wall time per call of the slowest rank, from sp-run's report."""
    return result.report["timings"][key]["slowest_rank_median_s"] * 1e3


def residual_bytes(ir: str) -> int:
    """Bytes of the residual result type of the first fused_add_rms_norm."""
    m = re.search(r"sp\.fused_add_rms_norm [^\n]*: tensor<(\d+)x(\d+)xbf16>", ir)
    return int(m[1]) * int(m[2]) * 2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sp_opt = tools.find_tool("sp-opt")
    rows, plot = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        norm_ms = {}
        for tokens in (512, 2048):
            for r in {tokens, tokens // 2, tokens // 4}:
                if r in norm_ms:
                    continue
                path = tmp / f"norm{r}.mlir"
                path.write_text(norm_module(r))
                result = tools.sp_run(path, repeat=args.repeat, check=True)
                norm_ms[r] = ms(result, "module")
        for tp in (2, 4):
            for tokens in (512, 2048):
                path = tmp / f"chain{tp}_{tokens}.mlir"
                path.write_text(chain_module(tokens, tp))
                after_ir = run([sp_opt, str(path), "--sp-sequence-parallelism", "--canonicalize"]).stdout
                before_res = residual_bytes(path.read_text())
                after_res = residual_bytes(after_ir)
                result = tools.sp_run(path, ranks=tp, repeat=args.repeat,
                                      compare="sp-sequence-parallelism,canonicalize")
                assert result.match, result.stdout + result.stderr
                e2e_before, e2e_after = ms(result, "before"), ms(result, "after")
                nb, na = norm_ms[tokens], norm_ms[tokens // tp]
                rows.append([tp, tokens, f"{nb:.2f}", f"{na:.2f}", f"{na / nb:.2f}x",
                             before_res, after_res, f"{e2e_before:.1f}", f"{e2e_after:.1f}",
                             f"{e2e_after / e2e_before:.2f}x"])
                plot.append((tp, tokens, nb, na, before_res, after_res))
                print(rows[-1], flush=True)

    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    labels = [f"TP{tp}\nN={n}" for tp, n, *_ in plot]
    x = range(len(plot))
    left.bar([i - 0.2 for i in x], [p[2] for p in plot], 0.4, label="before (N rows)")
    left.bar([i + 0.2 for i in x], [p[3] for p in plot], 0.4, label="after (N/TP rows)")
    left.set_xticks(list(x), labels)
    left.set_ylabel("ms per call (median)")
    left.set_title(f"fused add + RMSNorm + FP8 quant per rank, hidden {HIDDEN}")
    left.legend()
    right.bar([i - 0.2 for i in x], [p[4] / 2**20 for p in plot], 0.4, label="before")
    right.bar([i + 0.2 for i in x], [p[5] / 2**20 for p in plot], 0.4, label="after")
    right.set_xticks(list(x), labels)
    right.set_ylabel("MiB per rank")
    right.set_title("residual stream held per rank (bf16)")
    right.legend()
    fig.tight_layout()
    fig.savefig(OUT / "cpu_exec.png", dpi=110)
    write_table(
        "cpu_exec", "CPU execution per rank, with and without the rewrite",
        f"Hidden {HIDDEN}, bf16 with FP8 quant. Norm time: the norm alone on 1 rank "
        f"(median of {args.repeat} calls). End to end: a 4-layer all_reduce -> fused add + "
        "RMSNorm -> quant chain on TP MPI ranks of this machine (median of "
        f"{args.repeat} calls, slowest rank), outputs checked bitwise equal.",
        ["TP", "tokens N", "norm ms (N rows)", "norm ms (N/TP rows)", "norm ratio",
         "residual bytes before", "residual bytes after", "chain ms before",
         "chain ms after", "chain ratio"],
        rows, "build/venv/bin/python bench/cpu_exec.py")


if __name__ == "__main__":
    main()
