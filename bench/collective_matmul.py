"""Collective matmul: the unfused program (all_gather + GEMM, GEMM +
reduce_scatter) against the fused and pipelined one, on CPU ranks, and an
analytic estimate for GPUs.

CPU method: a 2-layer tensor-parallel MLP in f32 after sequence parallelism
(all_gather -> GEMM(w1) -> x*x -> GEMM(w2) -> reduce_scatter, per layer) is
run by sp-run on 2 and 4 MPI ranks before and after
`sp-collective-matmul{min-rows=1},sp-decompose-collective-matmul`, on the
same inputs, in one run (`--compare --repeat`): the outputs must match bit
for bit, and the table reports the median wall time per call of the slowest
rank before and after, and their ratio. A ratio from one run is robust on a
noisy machine; absolute times are not.

What the CPU numbers can show: that the pipelined form is correct and what
it costs or saves when ranks are processes on one machine. What they cannot
show: GPU overlap. Here the "network" is shared memory, OpenMPI progresses
non-blocking transfers mostly inside MPI calls (not during the GEMM loops),
the GEMMs are naive loops from convert-linalg-to-loops, and this machine has
2 cores, so 4 ranks oversubscribe it: a ratio near 1 (or above, from the
extra copies and loop overhead) is what to expect, not the GPU's gain.

GPU estimate: per TP GEMM of M x K x N (bf16) whose collective moves S
bytes (ring: (TP-1)/TP * S per rank), unfused = t_gemm + t_comm; fused =
t_gemm / chunk_eff + t_comm / TP + max(0, t_comm * (TP-1)/TP - overlap *
t_gemm / chunk_eff): the first chunk's transfer is exposed, the others hide
behind the chunk GEMMs up to the overlap efficiency. Parameters, each with its source:
  * GEMM throughput 797 TFLOP/s bf16: a published measurement, PyTorch 2.7
    (cu128) torch.matmul bf16 8192 x 8192 x 8192 on an H100 80GB HBM3 (SXM):
    797.51 TFLOP/s (788.72 at 4096, 676.59 at 2048),
    https://github.com/zzc0721/torch-performance-test-data/issues/79; used
    for H200 as an ASSUMPTION (the same GH100 tensor cores and the same
    989.5 TFLOP/s dense bf16 peak in NVIDIA's datasheets; H200 adds memory
    bandwidth, which a GEMM of these shapes does not need);
  * link 370 GB/s bus bandwidth for all_gather / reduce_scatter on NVLink 4
    (8 GPUs, NVSwitch): NCCL's maintainer's figure for what nccl-tests
    measures for these collectives, NVIDIA/nccl-tests#212 (the same value
    as data/cost-profiles/h200-sxm-ring.json);
  * chunk efficiency 0.9 (ASSUMPTION: a chunk GEMM has M/TP rows; the
    measurement above puts a 2048^3 GEMM at 0.85 of the 8192^3 rate, and
    the chunks here are 2048 or 1024 rows by K >= 1024 by N >= 1280);
  * overlap efficiency 0.8 (ASSUMPTION: the fraction of the remaining
    transfers hidden behind chunk GEMMs; nothing published measures it for
    this schedule). bench/gpu/check.sh measures both on a lent GPU.
Published end-to-end results, for comparison only (not inputs): vLLM's
AsyncTP 7-10% at high token counts and ~5% on Llama-3.1-70B FP8 TP4 with
8192-token prefill; PyTorch's micro-pipelined TP up to 29% forward on Llama-3
8B; XLA windowed einsum (Wang et al., ASPLOS'23) 1.14-1.38x.

    build/venv/bin/python bench/collective_matmul.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import OUT, pyplot, run, tools, write_table


def mlp_module(tokens: int, hidden: int, inter: int, tp: int, layers: int = 2) -> str:
    """A TP MLP after sequence parallelism, f32: rows are sharded between
    layers; each layer gathers, runs both GEMMs and reduce-scatters."""
    local = tokens // tp
    t_loc = f"tensor<{local}x{hidden}xf32>"
    args = [f"%x: {t_loc}"]
    body = ["  %zero = arith.constant 0.0 : f32"]
    x = "%x"
    for l in range(layers):
        w1, w2 = f"%w1_{l}", f"%w2_{l}"
        args += [f"{w1}: tensor<{hidden}x{inter // tp}xf32>", f"{w2}: tensor<{inter // tp}x{hidden}xf32>"]
        g, e1, f1, a, b, e2, f2, c, y = (f"%{n}{l}" for n in ("g", "e1_", "f1_", "a", "b", "e2_", "f2_", "c", "y"))
        full_h, full_i = f"tensor<{tokens}x{hidden}xf32>", f"tensor<{tokens}x{inter // tp}xf32>"
        body += [
            f"  {g} = sp.all_gather {x} over @tp : {t_loc} -> {full_h}",
            f"  {e1} = tensor.empty() : {full_i}",
            f"  {f1} = linalg.fill ins(%zero : f32) outs({e1} : {full_i}) -> {full_i}",
            f"  {a} = linalg.matmul ins({g}, {w1} : {full_h}, tensor<{hidden}x{inter // tp}xf32>) outs({f1} : {full_i}) -> {full_i}",
            f"  {b} = arith.mulf {a}, {a} : {full_i}",
            f"  {e2} = tensor.empty() : {full_h}",
            f"  {f2} = linalg.fill ins(%zero : f32) outs({e2} : {full_h}) -> {full_h}",
            f"  {c} = linalg.matmul ins({b}, {w2} : {full_i}, tensor<{inter // tp}x{hidden}xf32>) outs({f2} : {full_h}) -> {full_h}",
            f"  {y} = sp.reduce_scatter {c} over @tp : {full_h} -> {t_loc}",
        ]
        x = y
    return (f"sp.group @tp size({tp})\n"
            f"func.func @mlp({', '.join(args)}) -> {t_loc} {{\n"
            + "\n".join(body) + f"\n  return {x} : {t_loc}\n}}\n")


def gpu_estimate(m: int, k: int, n: int, tp: int, comm_bytes: float, p) -> tuple[float, float]:
    t_gemm = 2 * m * k * n / (p.tflops * 1e12)
    t_comm = comm_bytes * (tp - 1) / tp / (p.link_gbs * 1e9)
    chunked = t_gemm / p.chunk_eff
    unfused = t_gemm + t_comm
    # The first chunk's transfer is exposed; the others hide behind the
    # chunk GEMMs up to the overlap efficiency.
    first, rest = t_comm / tp, t_comm * (tp - 1) / tp
    fused = chunked + first + max(0.0, rest - p.overlap * chunked)
    return unfused, fused


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tflops", type=float, default=797.0)
    parser.add_argument("--link-gbs", type=float, default=370.0)
    parser.add_argument("--chunk-eff", type=float, default=0.9)
    parser.add_argument("--overlap", type=float, default=0.8)
    parser.add_argument("--gpu-only", action="store_true",
                        help="recompute only the GPU estimate, keep the recorded CPU table")
    args = parser.parse_args()
    rows, plot = [], []
    shapes = [(128, 128, 256), (256, 256, 512), (512, 256, 1024)]
    if not args.gpu_only:
        tools.find_tool("sp-run")
    with tempfile.TemporaryDirectory() as tmp:
        for tp in (() if args.gpu_only else (2, 4)):
            for tokens, hidden, inter in shapes:
                path = Path(tmp) / f"mlp_{tp}_{tokens}.mlir"
                path.write_text(mlp_module(tokens, hidden, inter, tp))
                result = tools.sp_run(
                    path, ranks=tp, repeat=args.repeat, timeout=1200,
                    compare="sp-collective-matmul{min-rows=1},sp-decompose-collective-matmul")
                assert result.match, result.stdout + result.stderr
                t = result.report["timings"]
                before = t["before"]["slowest_rank_median_s"] * 1e3
                after = t["after"]["slowest_rank_median_s"] * 1e3
                rows.append([tp, f"{tokens}x{hidden}x{inter}", "bitwise", f"{before:.1f}",
                             f"{after:.1f}", f"{after / before:.2f}x"])
                plot.append((f"TP{tp}\n{tokens}x{hidden}x{inter}", before, after))
                print(rows[-1], flush=True)

    # GPU estimate at Llama-3-70B shapes (hidden 8192, intermediate 28672,
    # 64 query / 8 KV heads of 128), 8192 tokens, bf16.
    gpu_rows = []
    tokens, h, inter = 8192, 8192, 28672
    for tp in (4, 8):
        gemms = {
            "qkv (AG+GEMM)": (tokens, h, (8192 + 2 * 1024) // tp, tokens * h * 2),
            "o_proj (GEMM+RS)": (tokens, h // tp, h, tokens * h * 2),
            "gate_up (AG+GEMM)": (tokens, h, 2 * inter // tp, tokens * h * 2),
            "down (GEMM+RS)": (tokens, inter // tp, h, tokens * h * 2),
        }
        for name, (m, k, n, comm) in gemms.items():
            unfused, fused = gpu_estimate(m, k, n, tp, comm, args)
            gpu_rows.append([tp, name, f"{m}x{k}x{n}", f"{unfused * 1e6:.0f}",
                             f"{fused * 1e6:.0f}", f"{unfused / fused:.2f}x"])

    paragraphs = [" ".join(p.split()) for p in __doc__.split("\n\n")]
    method = paragraphs[1] + "\n\n" + paragraphs[2]
    gpu_doc = __doc__.split("\n\n")[3].splitlines()
    gpu_method = " ".join(gpu_doc[:5]) + "\n\n" + "\n".join(gpu_doc[5:])
    lines = ["### GPU estimate (analytic; sources and assumptions stated)", "", gpu_method, "",
             f"Parameters: {args.tflops:g} TFLOP/s and {args.link_gbs:g} GB/s (published "
             f"measurements, cited above), chunk efficiency {args.chunk_eff:g} and overlap "
             f"efficiency {args.overlap:g} (assumptions).", "",
             "| TP | GEMM | M x K x N | unfused (us) | fused (us) | speedup |", "|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in gpu_rows]
    if args.gpu_only:
        # Replace the GPU section of the recorded table (and of the
        # collected docs/Benchmarks.md), keeping the CPU measurements.
        for path in (OUT / "collective_matmul.md", OUT.parent / "Benchmarks.md"):
            text = path.read_text()
            start = text.index("### GPU estimate")
            end = text.find("\n\n", text.index("| 8 | down"))
            end = len(text.rstrip("\n")) if end < 0 else end
            path.write_text(text[:start] + "\n".join(lines) + text[end:])
        return
    write_table(
        "collective_matmul", "Collective matmul on CPU ranks: unfused vs fused + pipelined",
        method, ["TP", "tokens x hidden x intermediate", "outputs", "unfused (ms)",
                 "fused + pipelined (ms)", "ratio"], rows,
        "build/venv/bin/python bench/collective_matmul.py")
    with open(OUT / "collective_matmul.md", "a") as f:
        f.write("\n" + "\n".join(lines) + "\n")

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    x = range(len(plot))
    ax.bar([i - 0.2 for i in x], [p[1] for p in plot], 0.4, label="unfused")
    ax.bar([i + 0.2 for i in x], [p[2] for p in plot], 0.4, label="fused + pipelined")
    ax.set_xticks(list(x), [p[0] for p in plot], fontsize=7)
    ax.set_ylabel("ms per call (slowest rank, median)")
    ax.set_title("Collective matmul on CPU ranks (2 cores; see the method)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(OUT / "collective_matmul.png", dpi=120)


if __name__ == "__main__":
    main()
