"""When does sequence parallelism pay on a GPU node? The cost model of
`sp-sequence-parallelism{cost-model=PROFILE}`, evaluated on Llama shapes
from the device profiles in data/cost-profiles (every number there cites a
published NCCL measurement or is labelled an assumption).

Per site (one all_reduce feeding a fused add + RMSNorm [+ FP8 quant], the
residual stream staying sharded as in a layer chain), exactly as the
planner (lib/Dialect/SP/Transforms/SequenceParallelismPlanner.cpp) charges
it:

  before = AR(S) + HBM(bytes of the row-wise ops on N rows)
  after  = RS(S) + AG(S_out) + HBM(bytes of the row-wise ops on N/TP rows)

with S = N * H * 2 (bf16), S_out = N * H (FP8 quant sunk) or S (bf16), and
each collective t = latency + busBytes / busbw, busBytes = 2(TP-1)/TP * S
for all_reduce, (TP-1)/TP * S for the others (nccl-tests' definitions, so
the profiles quote their sources' busbw columns). The row-wise ops stream
x, r, the norm output and the residual (4 S, plus the weight), and with
the quant its input again and its FP8 output (S + S/2); HBM bandwidth is
the datasheet peak times an assumed efficiency.

Break-even: the smallest N (a multiple of TP) from which the rewrite is
predicted faster, up to 64k tokens. The script checks its own model
against the pass: for every row it runs sp-opt with cost-model=PROFILE on
a one-site module at the break-even N and at the multiple of TP below it,
and requires the pass to rewrite the first and leave the second alone.

Writes docs/bench/gpu_model.md (+ .png) and the generated section of
docs/CostModel.md.

    build/venv/bin/python bench/gpu_model.py [--no-check]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
from pathlib import Path

from common import OUT, REPO, pyplot, tools, write_table

PROFILES = REPO / "data" / "cost-profiles"
SHAPES = [("Llama-3-8B", 4096), ("Llama-3-70B", 8192), ("Llama-3-405B", 16384)]
TPS = (2, 4, 8)
MAX_TOKENS = 1 << 16


def load(name: str) -> dict:
    return json.loads((PROFILES / f"{name}.json").read_text())


def row(profile: dict, kind: str, tp: int, size: int) -> dict | None:
    best = None
    for entry in profile["collectives"][kind]:
        if entry["tp_min"] <= tp <= entry["tp_max"] and entry.get("min_bytes", 0) <= size:
            if best is None or entry.get("min_bytes", 0) > best.get("min_bytes", 0):
                best = entry
    return best


def collective(profile: dict, kind: str, size: int, tp: int) -> float:
    entry = row(profile, kind, tp, size)
    share = (tp - 1) / tp * size * (2 if kind == "all_reduce" else 1)
    return entry["latency_us"]["value"] * 1e-6 + share / (entry["busbw_gbs"]["value"] * 1e9)


def hbm(profile: dict, moved: int) -> float:
    return moved / (profile["hbm_gbs"]["value"] * 1e9 * profile["hbm_efficiency"]["value"])


def site_times(profile: dict, n: int, h: int, tp: int, fp8: bool) -> tuple[float, float]:
    s = n * h * 2
    s_out = n * h if fp8 else s
    w = h * 2
    # fused_add_rms_norm: x, r, w in; out, residual out. quant: out in
    # (+ a 4-byte scale), FP8 out.
    rows_moved = 4 * s + ((s + n * h) if fp8 else 0)
    whole = w + (4 if fp8 else 0)
    before = collective(profile, "all_reduce", s, tp) + hbm(profile, rows_moved + whole)
    after = (collective(profile, "reduce_scatter", s, tp) + collective(profile, "all_gather", s_out, tp)
             + hbm(profile, rows_moved // tp + whole))
    return before, after


def break_even(profile: dict, h: int, tp: int, fp8: bool) -> int | None:
    """Smallest multiple of TP from which the rewrite pays (and keeps paying
    up to MAX_TOKENS)."""
    first = None
    for n in range(tp, MAX_TOKENS + 1, tp):
        before, after = site_times(profile, n, h, tp, fp8)
        if after < before:
            if first is None:
                first = n
        else:
            first = None
    return first


def vllm_threshold(h: int, tp: int, device: str = "sm90") -> int | None:
    if device == "sm90":
        return None if h < 8192 else 8 * 2**20 * tp // (h * 2)
    return 32 * 2**20 * tp // (h * 2)


def site_module(n: int | str, h: int, tp: int, fp8: bool) -> str:
    t = f"tensor<{n}x{h}xbf16>"
    q = f"tensor<{n}x{h}xf8E4M3FN>"
    head = (f"sp.group @tp size({tp})\n"
            f"func.func @site(%x: {t}, %r: {t} {{sp.replicated}}, %w: tensor<{h}xbf16> {{sp.replicated}}, "
            f"%s: tensor<f32> {{sp.replicated}}) -> {q if fp8 else t} {{\n"
            f"  %0 = sp.all_reduce %x over @tp : {t}\n"
            f"  %1:2 = sp.fused_add_rms_norm %0, %r, %w epsilon = 1.0e-5 : {t}, tensor<{h}xbf16>\n")
    if fp8:
        return head + f"  %2 = sp.quant %1#0, %s : {t} -> {q}\n  return %2 : {q}\n}}\n"
    return head + f"  return %1#0 : {t}\n}}\n"


def pass_rewrites(profile: str, n: int, h: int, tp: int, fp8: bool, tmp: Path) -> bool:
    path = tmp / "site.mlir"
    path.write_text(site_module(n, h, tp, fp8))
    out = subprocess.run([tools.find_tool("sp-opt"), str(path),
                          f"--sp-sequence-parallelism=cost-model={profile}", "-o", "/dev/null",
                          "--sp-report=-"], capture_output=True, text=True, check=True).stdout
    return json.loads(out)["sites"]["rewritten"] == 1


def guard_break_even(profile: str, h: int, tp: int, fp8: bool, tmp: Path) -> int | None:
    """The break-even the pass finds itself on the same site with a dynamic
    token count (dynamic=guard, no ranges=): the lower end of the range it
    versions the function for."""
    path = tmp / "dynamic-site.mlir"
    path.write_text(site_module("?", h, tp, fp8))
    out = subprocess.run([tools.find_tool("sp-opt"), str(path),
                          f"--sp-sequence-parallelism=cost-model={profile}", "-o", "/dev/null",
                          "--sp-report=-"], capture_output=True, text=True, check=True).stdout
    ranges = json.loads(out)["dynamic"][0]["ranges"]
    rewritten = [r["range"] for r in ranges if r["decision"] == "rewrite"]
    return int(rewritten[0].split("-")[0]) if rewritten else None


def decision(profile: dict, n: int, h: int, tp: int, fp8: bool) -> str:
    before, after = site_times(profile, n, h, tp, fp8)
    return "SP" if after < before else "AR"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-check", action="store_true",
                        help="skip the cross-check against sp-opt")
    args = parser.parse_args()
    names = sorted(p.stem for p in PROFILES.glob("*.json"))
    profiles = {name: load(name) for name in names}
    probes = (256, 2048, 8192)
    header = ["model (hidden)", "TP", "dtype", "break-even N (cost model)", "vLLM sm90 min N"] + \
        [f"N={n}: model / vLLM" for n in probes] + ["before / after us at N=8192"]
    sections, md_rows, checked = [], [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, profile in profiles.items():
            rows = []
            for model, h in SHAPES:
                for tp in TPS:
                    for fp8 in (False, True):
                        be = break_even(profile, h, tp, fp8)
                        v = vllm_threshold(h, tp)
                        cells = []
                        for n in probes:
                            vd = "SP" if v is not None and n >= v else "AR"
                            cells.append(f"{decision(profile, n, h, tp, fp8)} / {vd}")
                        b, a = site_times(profile, 8192, h, tp, fp8)
                        rows.append([f"{model} ({h})", tp, "bf16 + FP8 quant" if fp8 else "bf16",
                                     be if be else f"never (<= {MAX_TOKENS})",
                                     v if v is not None else "none (hidden < 8192)"] + cells +
                                    [f"{b * 1e6:.0f} / {a * 1e6:.0f}"])
                        if not args.no_check:
                            # The pass's own break-even on a dynamic token
                            # count (dynamic=guard) is the model's.
                            guarded = guard_break_even(name, h, tp, fp8, Path(tmp))
                            assert guarded == be or (be is None and guarded is None), \
                                (name, h, tp, fp8, be, guarded)
                        if be and not args.no_check:
                            assert pass_rewrites(name, be, h, tp, fp8, Path(tmp)), (name, be, h, tp, fp8)
                            if be > tp:
                                assert not pass_rewrites(name, be - tp, h, tp, fp8, Path(tmp)), \
                                    (name, be - tp, h, tp, fp8)
                            checked += 1
                        md_rows.append([name] + rows[-1])
            sections.append((name, profile, rows))
            print(name, "done", flush=True)

    # docs/bench/gpu_model.md: every profile in one table, and the plot.
    plt = pyplot()
    fig, axes = plt.subplots(1, len(profiles), figsize=(4.2 * len(profiles), 3.8), sharey=True)
    tokens = [2**k for k in range(4, 17)]
    for ax, (name, profile) in zip(axes, profiles.items()):
        for h, tp, fp8 in ((8192, 8, False), (8192, 8, True), (4096, 2, False), (16384, 8, True)):
            speedup = []
            for n in tokens:
                b, a = site_times(profile, max(tp, n // tp * tp), h, tp, fp8)
                speedup.append(b / a)
            ax.semilogx(tokens, speedup, "o-", ms=3, label=f"H={h} TP={tp} {'fp8' if fp8 else 'bf16'}")
        ax.axhline(1.0, color="gray", lw=1)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("tokens N")
    axes[0].set_ylabel("predicted before / after per site")
    axes[0].legend(fontsize=7)
    fig.suptitle("cost model per site (> 1: the rewrite is predicted to pay)", fontsize=10)
    fig.tight_layout()
    fig.savefig(OUT / "gpu_model.png", dpi=110)
    write_table(
        "gpu_model", "Cost model on Llama shapes: when does sequence parallelism pay?",
        "Predictions of `cost-model=PROFILE` (data/cost-profiles; numbers cited or labelled "
        "assumptions there) for one all_reduce -> fused add + RMSNorm [-> FP8 quant] site. "
        "SP: the rewrite is predicted faster; AR: the all_reduce is kept. vLLM: its sm90 rule. "
        f"Each break-even was checked against sp-opt ({checked} rows): the pass rewrites the "
        "site at the break-even and not one TP step below, and with a dynamic token count "
        "(dynamic=guard) it versions the function for exactly the tokens from the break-even up. These are predictions "
        "from published NCCL figures, not measurements of sp on a GPU.",
        ["profile"] + header, md_rows, "build/venv/bin/python bench/gpu_model.py")

    # docs/CostModel.md's generated section.
    lines = []
    for name, profile, rows in sections:
        lines += [f"#### `{name}`", "", profile["description"] + ".", "",
                  "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
        lines.append("")
    doc = REPO / "docs" / "CostModel.md"
    text = doc.read_text()
    begin, end = "<!-- begin: generated by bench/gpu_model.py -->", "<!-- end: generated by bench/gpu_model.py -->"
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end),
                  lambda _: begin + "\n\n" + "\n".join(lines) + "\n" + end, text, flags=re.S)
    doc.write_text(text)
    print(f"checked {checked} break-evens against sp-opt")


if __name__ == "__main__":
    main()
