"""CPU calibration: all_reduce against reduce_scatter + all_gather under MPI
on this machine, by measurement.

Method: for each row count n (hidden H = 1024, f32, so a tensor is
n * 4 KiB) one module holds two entry functions, `@ar` (one sp.all_reduce
of the n x H tensor) and `@rsag` (sp.reduce_scatter to n/TP rows, then
sp.all_gather back to n rows: what sequence parallelism leaves when the
norm between them is free). `sp-run --entry=... --repeat=R` times each on
TP MPI ranks (median wall time per call of the slowest rank); the two
entries run back to back for each n, so their ratio is measured under the
same load (this machine is shared with other jobs: absolute times are
noisy, the ratios less so; each n runs `--rounds` alternating rounds and
keeps the smallest median of each variant, the least disturbed one).
Each variant is fitted with the alpha-beta model t(S) = alpha + S / B
(least squares on S = n * H * 4 bytes, unweighted, alpha >= 0); the
crossover is reported twice: where the fitted lines cross, and the
smallest measured n from which rs + ag is never slower. The raw medians
go to docs/bench/collective_crossover.json (`--from-json` redoes the fits,
table and plot from it).

What this measures is sp's CPU runtime (runtime/cpu/MPICollectives.cpp),
not a GPU: its all_reduce is an MPI_Allgather of every rank's full tensor
followed by a sum in rank order (so that it agrees bit for bit with
reduce_scatter + all_gather), its reduce_scatter an MPI_Alltoall plus the
same sum on 1/TP of the rows, its all_gather an MPI_Allgather in place.
So the all_reduce moves (TP-1) * S per rank where a ring would move
2 (TP-1)/TP * S, and sums TP times more elements than the reduce_scatter:
the crossover here says where that runtime's all_reduce is beaten, which
is the calibration the issue asks for, and nothing about NCCL.

    build/venv/bin/python bench/collective_crossover.py [--ranks 2,4] [--hidden 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from common import OUT, pyplot, tools, write_table


def module(n: int, hidden: int, tp: int) -> str:
    t = f"tensor<{n}x{hidden}xf32>"
    loc = f"tensor<{n // tp}x{hidden}xf32>"
    return (f"sp.group @tp size({tp})\n"
            f"func.func @ar(%x: {t}) -> {t} {{\n"
            f"  %a = sp.all_reduce %x over @tp : {t}\n"
            f"  return %a : {t}\n}}\n"
            f"func.func @rsag(%x: {t}) -> {t} {{\n"
            f"  %a = sp.reduce_scatter %x over @tp : {t} -> {loc}\n"
            f"  %b = sp.all_gather %a over @tp : {loc} -> {t}\n"
            f"  return %b : {t}\n}}\n")


def fit(sizes: list[float], times: list[float]) -> tuple[float, float]:
    """Least squares of t = alpha + S * beta with alpha >= 0 (unweighted:
    the large messages set the bandwidth; the small ones, whose times are
    mostly scheduling noise here, barely move it)."""
    import numpy as np
    s = np.array(sizes, dtype=float)
    t = np.array(times, dtype=float)
    w = np.ones_like(t)
    a = np.stack([np.ones_like(s), s], axis=1) * w[:, None]
    (alpha, beta), *_ = np.linalg.lstsq(a, t * w, rcond=None)
    if alpha < 0:  # latency cannot be negative: refit the bandwidth alone
        alpha = 0.0
        beta = float(np.sum(w * w * t * s) / np.sum(w * w * s * s))
    return float(alpha), float(beta)


def stays_below(res: list[tuple[int, float, float]]) -> int | None:
    """The smallest measured n from which rs + ag is never slower than
    all_reduce at any larger measured n."""
    first = None
    for n, a, b in res:
        if b <= a:
            first = n if first is None else first
        else:
            first = None
    return first


def fitted_crossover(ar: tuple[float, float], rsag: tuple[float, float]) -> str:
    """Where the two fitted lines cross, in bytes, if they do."""
    (aa, ab), (ra, rb) = ar, rsag
    if ab == rb:
        return "parallel fits"
    s = (ra - aa) / (ab - rb)
    if s <= 0:
        return ("rs + ag below all_reduce at every size" if rb < ab
                else "all_reduce below rs + ag at every size")
    return f"S = {s / 1024:.0f} KiB"


def repeat_for(n_bytes: int) -> int:
    return 20 if n_bytes <= 1 << 20 else 7 if n_bytes <= 8 << 20 else 3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ranks", default="2,4")
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--rows", default="4,16,64,256,1024,4096,16384")
    parser.add_argument("--max-rows-tp4", type=int, default=4096)
    parser.add_argument("--from-json", action="store_true",
                        help="redo the fits, table and plot from docs/bench/collective_crossover.json")
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternating ar / rs+ag rounds per n; the minimum of the medians counts")
    args = parser.parse_args()
    tools.find_tool("sp-run")
    rows_list = [int(r) for r in args.rows.split(",")]
    h = args.hidden
    results: dict[int, list[tuple[int, float, float]]] = {}
    start = time.time()
    load_start = os.getloadavg()[0]
    if args.from_json:
        saved = json.loads((OUT / "collective_crossover.json").read_text())
        h = saved["hidden"]
        load_start, load_end = saved["load_average"]
        results = {int(tp): [(r["rows"], r["all_reduce_s"], r["rs_ag_s"]) for r in res]
                   for tp, res in saved["results"].items()}
        run_time = saved.get("run_time_s", 0)
    with tempfile.TemporaryDirectory() as tmp:
        for tp in ([] if args.from_json else (int(r) for r in args.ranks.split(","))):
            results[tp] = []
            for n in rows_list:
                if n % tp or (tp > 2 and n > args.max_rows_tp4):
                    continue
                path = Path(tmp) / f"x_{tp}_{n}.mlir"
                path.write_text(module(n, h, tp))
                rep = repeat_for(n * h * 4)
                t = {"ar": float("inf"), "rsag": float("inf")}
                for _ in range(args.rounds):
                    for entry in ("ar", "rsag"):
                        r = tools.sp_run(path, ranks=tp, entry=entry, repeat=rep,
                                         timeout=1200, check=True)
                        t[entry] = min(t[entry], r.report["timings"]["module"]["slowest_rank_median_s"])
                results[tp].append((n, t["ar"], t["rsag"]))
                print(tp, n, f"ar {t['ar'] * 1e6:.1f} us", f"rs+ag {t['rsag'] * 1e6:.1f} us",
                      f"{time.time() - start:.0f}s", flush=True)

    if not args.from_json:
        load_end = os.getloadavg()[0]
        run_time = time.time() - start
    table, fits = [], {}
    for tp, res in results.items():
        sizes = [n * h * 4 for n, _, _ in res]
        fits[tp] = (fit(sizes, [a for _, a, _ in res]), fit(sizes, [b for _, _, b in res]))
        crossover = stays_below(res)
        for n, a, b in res:
            table.append([tp, n, f"{n * h * 4 / 1024:.0f}", f"{a * 1e6:.1f}", f"{b * 1e6:.1f}",
                          f"{a / b:.2f}", "yes" if b <= a else "no"])
        (aa, ab), (ra, rb) = fits[tp]
        print(f"TP {tp}: all_reduce alpha {aa * 1e6:.1f} us, B {1 / ab / 1e9:.2f} GB/s; "
              f"rs+ag alpha {ra * 1e6:.1f} us, B {1 / rb / 1e9:.2f} GB/s; "
              f"rs+ag not slower from n = {crossover} on; fits: {fitted_crossover(*fits[tp])}")
    fit_lines = []
    for tp, ((aa, ab), (ra, rb)) in fits.items():
        cross = stays_below(results[tp])
        wins = sum(1 for _, a, b in results[tp] if b <= a)
        fit_lines.append(
            f"TP {tp}: all_reduce t = {aa * 1e6:.1f} us + S / {1 / ab / 1e9:.2f} GB/s; "
            f"reduce_scatter + all_gather t = {ra * 1e6:.1f} us + S / {1 / rb / 1e9:.2f} GB/s; "
            f"the fitted lines: {fitted_crossover((aa, ab), (ra, rb))}; measured: rs + ag "
            f"not slower at {wins} of {len(results[tp])} sizes, and at every size from "
            f"{cross if cross is not None else '(none)'} rows on.")

    (OUT / "collective_crossover.json").write_text(json.dumps(
        {"hidden": h, "dtype": "f32", "load_average": [load_start, load_end],
         "run_time_s": run_time,
         "results": {str(tp): [{"rows": n, "all_reduce_s": a, "rs_ag_s": b} for n, a, b in res]
                     for tp, res in results.items()}}, indent=1) + "\n")
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for tp, res in results.items():
        ns = [n for n, _, _ in res]
        axes[0].loglog(ns, [a * 1e6 for _, a, _ in res], "o-", ms=3, label=f"all_reduce, TP {tp}")
        axes[0].loglog(ns, [b * 1e6 for _, _, b in res], "s--", ms=3, label=f"rs + ag, TP {tp}")
        axes[1].semilogx(ns, [a / b for _, a, b in res], "o-", ms=3, label=f"TP {tp}")
    axes[0].set_xlabel(f"rows n (hidden {h}, f32)")
    axes[0].set_ylabel("median time per call (us)")
    axes[0].legend(fontsize=8)
    axes[1].axhline(1.0, color="gray", lw=1)
    axes[1].set_xlabel("rows n")
    axes[1].set_ylabel("all_reduce / (rs + ag)  (> 1: rs + ag faster)")
    axes[1].legend(fontsize=8)
    fig.suptitle("sp's MPI CPU runtime: all_reduce vs reduce_scatter + all_gather", fontsize=10)
    fig.tight_layout()
    fig.savefig(OUT / "collective_crossover.png", dpi=110)
    write_table(
        "collective_crossover",
        "CPU calibration: all_reduce vs reduce_scatter + all_gather (MPI ranks)",
        "Median wall time per call of the slowest rank (`sp-run --repeat`), hidden "
        f"{h} f32, the two variants run back to back for each n. Alpha-beta fits "
        "(least squares, latency >= 0):\n\n" + "\n".join(f"- {l}" for l in fit_lines) +
        "\n\nThis is sp's CPU runtime (all_reduce = MPI_Allgather of the full tensors + "
        "a rank-ordered sum; reduce_scatter = MPI_Alltoall + the sum on 1/TP of the rows), "
        "not NCCL; TP 4 oversubscribes this machine's cores. Absolute times are noisy "
        f"(shared machine: load average {load_start:.1f} at the start of this run, "
        f"{load_end:.1f} at the end, on {os.cpu_count()} cores); compare the ratio column, "
        f"and treat single rows as noisy. Run time: {run_time:.0f} s.",
        ["TP", "rows n", "KiB", "all_reduce us", "rs + ag us", "ar / (rs+ag)", "rs + ag wins"],
        table, "build/venv/bin/python bench/collective_crossover.py")


if __name__ == "__main__":
    main()
