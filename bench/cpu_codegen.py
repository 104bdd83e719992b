"""CPU codegen: sp-lower-to-cpu's vector code against OpenBLAS and memcpy.

Method (every number from one run of this script; times are medians of
`sp-run --repeat` calls, slowest rank, compile time excluded; numpy runs in
this process with OPENBLAS_NUM_THREADS=1, medians of the same number of
calls). sp-run's time per call includes copying every input and output, so
GEMMs, norms and quant run in a loop inside the module, 1 and 1 + R times,
and the time of one op is the difference over R:

1. GEMM: `linalg.matmul` M x 4096 x 4096 (M = 256 .. 2048) with f32, bf16
   (bf16 accumulator, as the model's GEMMs) and FP8 inputs (f8E4M3FN x
   f8E4M3FN into bf16). GFLOP/s = 2MNK / time. The reference is numpy's f32
   matmul (OpenBLAS, one thread) on the same shape: numpy has no bf16 or FP8
   GEMM, and OpenBLAS uses FMA while sp's code must not (two roundings per
   step, as the IR says), so even f32 compares against a faster operation.
   The scalar path (`--cpu-codegen=scalar`, the reference loops) is
   timed on the smallest shape only.
2. Norms and quant: rms_norm, fused add + rms_norm, and quant to FP8 on
   1024 x 4096 bf16 rows. GB/s counts each tensor read or written once
   (what the op must move), against numpy's copy of a buffer of the same
   total size (read + write counted, as for the ops).
3. A Llama-8B-shaped layer (hidden 4096, intermediate 14336 over TP 2,
   1024 tokens, bf16 with FP8 quant and FP8 GEMMs for QKV and gate-up) on 2
   MPI ranks of this machine, before and after
   `sp-sequence-parallelism,canonicalize` (outputs checked bitwise equal),
   with the vector code; the scalar code is timed on the same layer with 64
   tokens (--full: 1024 tokens, which takes many minutes).

    build/venv/bin/python bench/cpu_codegen.py            # quick: M = 256
    build/venv/bin/python bench/cpu_codegen.py --full     # M = 256 .. 2048, scalar layer at 1024 tokens
"""

from __future__ import annotations

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before numpy loads OpenBLAS

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from common import REPO, pyplot, tools, write_table  # noqa: E402

N = K = 4096
TYPES = {"f32": ("f32", "f32"), "bf16": ("bf16", "bf16"), "fp8": ("f8E4M3FN", "bf16")}


def gemm_module(m: int, dtype: str, iterations: int) -> str:
    """`iterations` GEMMs accumulating into one C (each the same work)."""
    a, c = TYPES[dtype]
    A, B, C = f"tensor<{m}x{K}x{a}>", f"tensor<{K}x{N}x{a}>", f"tensor<{m}x{N}x{c}>"
    return f"""func.func @gemm(%a: {A}, %b: {B}) -> {C} {{
  %zero = arith.constant 0.0 : {c}
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = arith.constant {iterations} : index
  %e = tensor.empty() : {C}
  %z = linalg.fill ins(%zero : {c}) outs(%e : {C}) -> {C}
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %z) -> ({C}) {{
    %m = linalg.matmul ins(%a, %b : {A}, {B}) outs(%acc : {C}) -> {C}
    scf.yield %m : {C}
  }}
  return %r : {C}
}}
"""


ROWS, HIDDEN = 1024, 4096
EPS = "1.0e-05"


def norm_modules(iterations: int) -> dict[str, tuple[str, int]]:
    """name -> (module running the op `iterations` times, bytes moved by one)."""
    t, w, q = (f"tensor<{ROWS}x{HIDDEN}xbf16>", f"tensor<{HIDDEN}xbf16>",
               f"tensor<{ROWS}x{HIDDEN}xf8E4M3FN>")
    n = ROWS * HIDDEN
    loop = ("  %c0 = arith.constant 0 : index\n  %c1 = arith.constant 1 : index\n"
            f"  %n = arith.constant {iterations} : index\n")
    return {
        "rms_norm": (f"""func.func @f(%x: {t}, %w: {w}) -> {t} {{
{loop}  %r = scf.for %i = %c0 to %n step %c1 iter_args(%v = %x) -> ({t}) {{
    %o = sp.rms_norm %v, %w epsilon = {EPS} : {t}, {w}
    scf.yield %o : {t}
  }}
  return %r : {t}
}}
""", 2 * n + 2 * n + 2 * HIDDEN),
        "fused_add_rms_norm": (f"""func.func @f(%x: {t}, %r: {t}, %w: {w}) -> ({t}, {t}) {{
{loop}  %o:2 = scf.for %i = %c0 to %n step %c1 iter_args(%v = %x, %u = %r) -> ({t}, {t}) {{
    %a, %b = sp.fused_add_rms_norm %v, %u, %w epsilon = {EPS} : {t}, {w}
    scf.yield %a, %b : {t}, {t}
  }}
  return %o#0, %o#1 : {t}, {t}
}}
""", 4 * 2 * n + 2 * HIDDEN),
        "quant (bf16 -> fp8)": (f"""func.func @f(%x: {t}, %s: tensor<f32>) -> {q} {{
{loop}  %e = tensor.empty() : {q}
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%v = %e) -> ({q}) {{
    %o = sp.quant %x, %s : {t} -> {q}
    scf.yield %o : {q}
  }}
  return %r : {q}
}}
""", 2 * n + n),
    }


def sp_run(path: Path, *args: str, timeout: int = 3000) -> dict:
    """sp-run's JSON report (raises on failure)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [tools.find_tool("sp-run"), str(path), f"--report={report}",
               f"--timeout={timeout}", *args]
        started = time.perf_counter()
        run = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if run.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{run.stdout}{run.stderr}")
        data = json.loads(report.read_text())
        data["wall_s"] = wall
        return data


def seconds(report: dict, key: str = "module") -> float:
    return report["timings"][key]["slowest_rank_median_s"]


def op_seconds(write, tmp: Path, name: str, repeat: int, extra: int, *args: str) -> float:
    """Seconds of one op: sp-run's time per call includes copying the
    inputs and outputs, so each op runs 1 and 1 + `extra` times in a loop
    inside the module and the difference is divided by `extra`."""
    times = []
    for iterations in (1, 1 + extra):
        path = tmp / f"{name}_{iterations}.mlir"
        path.write_text(write(iterations))
        times.append(seconds(sp_run(path, f"--repeat={repeat}", *args)))
    return (times[1] - times[0]) / extra


def numpy_median(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true",
                        help="M = 256..2048 and the scalar layer at 1024 tokens")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ms = [256, 512, 1024, 2048] if args.full else [256]
    rng = np.random.default_rng(0)
    results: dict = {"gemm": [], "norm": [], "layer": {}, "load_before": os.getloadavg()[0]}

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # 1. GEMM.
        gemm_rows = []
        for m in ms:
            a = rng.standard_normal((m, K), dtype=np.float32)
            b = rng.standard_normal((K, N), dtype=np.float32)
            blas = numpy_median(lambda: a @ b, args.repeat)
            flops = 2 * m * N * K
            row = [m, f"{flops / blas / 1e9:.1f}"]
            entry = {"m": m, "openblas_gflops": flops / blas / 1e9}
            for dtype in TYPES:
                t = op_seconds(lambda i: gemm_module(m, dtype, i), tmp, f"gemm_{dtype}_{m}",
                               args.repeat, 2, "--cpu-codegen=vector")
                entry[dtype] = flops / t / 1e9
                row.append(f"{flops / t / 1e9:.1f}")
                if dtype == "f32":
                    row.append(f"{blas / t:.0%}")
            if m == ms[0]:
                t = op_seconds(lambda i: gemm_module(m, "f32", i), tmp, f"gemm_s_{m}", 1, 1,
                               "--cpu-codegen=scalar")
                entry["scalar_f32"] = flops / t / 1e9
                row.append(f"{flops / t / 1e9:.2f}")
            else:
                row.append("")
            gemm_rows.append(row)
            results["gemm"].append(entry)
            print(row, flush=True)

        # 2. Norms and quant against memcpy.
        norm_rows = []
        for name, (_, moved) in norm_modules(1).items():
            def write(i, name=name):
                return norm_modules(i)[name][0]
            vec = op_seconds(write, tmp, "norm", args.repeat, 10, "--cpu-codegen=vector")
            sca = op_seconds(write, tmp, "norm_s", args.repeat, 4, "--cpu-codegen=scalar")
            src = np.ones(moved // 2, dtype=np.uint8)
            dst = np.empty_like(src)
            copy = numpy_median(lambda: np.copyto(dst, src), max(args.repeat, 5))
            memcpy = moved / copy / 1e9
            norm_rows.append([name, f"{moved / 2**20:.1f}", f"{moved / sca / 1e9:.2f}",
                              f"{moved / vec / 1e9:.2f}", f"{memcpy:.2f}",
                              f"{moved / vec / 1e9 / memcpy:.0%}", f"{sca / vec:.0f}x"])
            results["norm"].append({"op": name, "gbs": moved / vec / 1e9,
                                    "scalar_gbs": moved / sca / 1e9, "memcpy_gbs": memcpy})
            print(norm_rows[-1], flush=True)

        # 3. One Llama-8B-shaped layer on 2 ranks.
        def layer(tokens: int) -> Path:
            path = tmp / f"layer{tokens}.mlir"
            subprocess.run([sys.executable, "-m", "sp_tools.modelgen", "--layers", "1",
                            "--tokens", str(tokens), "--hidden", "4096",
                            "--intermediate", "14336", "--tp", "2", "--fp8",
                            "-o", str(path)], check=True, cwd=REPO / "python")
            return path

        compare = "--compare=sp-sequence-parallelism,canonicalize"
        vec = sp_run(layer(1024), "--ranks=2", "--repeat=1", compare, "--cpu-codegen=vector")
        assert vec["comparison"] and all(o["identical"] for o in vec["comparison"]["outputs"])
        scalar_tokens = 1024 if args.full else 64
        sca = sp_run(layer(scalar_tokens), "--ranks=2", "--repeat=1", compare,
                     "--cpu-codegen=scalar")
        assert all(o["identical"] for o in sca["comparison"]["outputs"])
        layer_rows = [
            ["vector (`--cpu-codegen=vector`)", 1024, f"{seconds(vec, 'before'):.1f}",
             f"{seconds(vec, 'after'):.1f}", f"{vec['wall_s']:.0f}"],
            ["scalar (`--cpu-codegen=scalar`)", scalar_tokens, f"{seconds(sca, 'before'):.1f}",
             f"{seconds(sca, 'after'):.1f}", f"{sca['wall_s']:.0f}"],
        ]
        results["layer"] = {"vector_before_s": seconds(vec, "before"),
                            "vector_after_s": seconds(vec, "after"),
                            "scalar_tokens": scalar_tokens,
                            "scalar_before_s": seconds(sca, "before"),
                            "scalar_after_s": seconds(sca, "after")}
        print(layer_rows, flush=True)

    results["load_after"] = os.getloadavg()[0]
    out = REPO / "docs" / "bench"
    (out / "cpu_codegen.json").write_text(json.dumps(results, indent=1) + "\n")
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    xs = [e["m"] for e in results["gemm"]]
    left.plot(xs, [e["openblas_gflops"] for e in results["gemm"]], "k--o",
              label="numpy f32 (OpenBLAS, 1 thread, FMA)")
    for dtype in TYPES:
        left.plot(xs, [e[dtype] for e in results["gemm"]], "-o", label=f"sp {dtype}")
    left.set_xscale("log", base=2)
    left.set_yscale("log")
    left.set_xlabel("M (x 4096 x 4096)")
    left.set_ylabel("GFLOP/s")
    left.set_title("GEMM, one thread")
    left.legend(fontsize=8)
    names = [e["op"] for e in results["norm"]]
    x = range(len(names))
    right.bar([i - 0.27 for i in x], [e["scalar_gbs"] for e in results["norm"]], 0.27,
              label="sp scalar")
    right.bar(list(x), [e["gbs"] for e in results["norm"]], 0.27, label="sp vector")
    right.bar([i + 0.27 for i in x], [e["memcpy_gbs"] for e in results["norm"]], 0.27,
              label="memcpy (numpy copy)")
    right.set_xticks(list(x), names, fontsize=8)
    right.set_ylabel("GB/s")
    right.set_title(f"row-wise ops, {ROWS} x {HIDDEN} bf16")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "cpu_codegen.png", dpi=110)

    command = "build/venv/bin/python bench/cpu_codegen.py" + (" --full" if args.full else "")
    method = (f"Medians of {args.repeat} calls (sp-run --repeat, compile excluded; numpy the "
              "same). GEMM: `linalg.matmul` M x 4096 x 4096, FP8 = f8E4M3FN inputs into a bf16 "
              "accumulator; the OpenBLAS column is numpy's f32 matmul with "
              "OPENBLAS_NUM_THREADS=1 (FMA; sp must not fuse), the ratio is sp f32 / OpenBLAS; "
              "scalar = `--cpu-codegen=scalar` (smallest M only). Load average of this "
              f"machine (shared, {os.cpu_count()} cores): {results['load_before']:.1f} at the "
              f"start, {results['load_after']:.1f} at the end.")
    sections = []
    sections.append(write_table(
        "cpu_codegen", "CPU codegen: GEMM GFLOP/s, one thread", method,
        ["M", "OpenBLAS f32", "sp f32", "f32 vs OpenBLAS", "sp bf16", "sp fp8",
         "sp scalar f32"],
        gemm_rows, command))
    norm_md = ["", "### CPU codegen: row-wise ops, GB/s", "",
               f"{ROWS} x {HIDDEN} bf16 rows; bytes = every tensor read or written once; memcpy = "
               "numpy copy of the same number of bytes (read + write).", "",
               "| op | MiB moved | sp scalar GB/s | sp vector GB/s | memcpy GB/s | "
               "vector / memcpy | vector speed-up |", "|---|---|---|---|---|---|---|"]
    norm_md += ["| " + " | ".join(str(c) for c in r) + " |" for r in norm_rows]
    norm_md += ["", "### CPU codegen: one Llama-8B-shaped layer per rank", "",
                "Hidden 4096, intermediate 14336 over TP 2, bf16 activations, FP8 quant and "
                "FP8 QKV / gate-up GEMMs, on 2 MPI ranks of this machine (2 cores); seconds per "
                "call of the slowest rank before and after `sp-sequence-parallelism,canonicalize` "
                "(outputs bitwise equal); wall = the whole sp-run including compile and input "
                "generation.", "",
                "| codegen | tokens | s before SP | s after SP | sp-run wall s |",
                "|---|---|---|---|---|"]
    norm_md += ["| " + " | ".join(str(c) for c in r) + " |" for r in layer_rows]
    path = sections[0]
    text = path.read_text()
    image = "![CPU codegen: GEMM GFLOP/s, one thread](cpu_codegen.png)\n"
    path.write_text(text.replace(image, "\n".join(norm_md) + "\n\n" + image))
    print(path.read_text())


if __name__ == "__main__":
    main()
