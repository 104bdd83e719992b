"""An analytic model of one sequence-parallel site on a GPU node: does the
rewrite pay, for a given hidden size, token count, TP and dtype?

Per site (one all_reduce feeding a fused add + RMSNorm [+ FP8 quant]):

  before = AR(S) + norm(N rows)
  after  = RS(S) + norm(N / TP rows) + AG(S_out)

with S = N * H * b bytes (b = activation bytes), S_out = N * H * (1 with
FP8, else b), and the alpha-beta collective costs of NCCL's ring algorithms
over a link bandwidth B:

  AR(S) = a_ar + 2 (TP-1)/TP * S / B,   RS(S) = a_rs + (TP-1)/TP * S / B,
  AG(S) = a_ag + (TP-1)/TP * S / B

and the norm as a memory-bound kernel at HBM bandwidth M plus a launch cost:
it reads x, r (N*H*b each) and w, writes the residual (N*H*b) and the output
(N*H*b, or N*H with the quant fused).

Defaults (H200, NVLink 4): B = 360 GB/s (80% of 450 GB/s per direction),
M = 4.0 TB/s (83% of 4.8), a_ar = 15 us, a_rs = a_ag = 10 us, launch 3 us:
assumptions, not measurements; change them with the flags. The model ignores
what the rewrite enables beyond the site (GEMM + reduce-scatter and
all-gather + GEMM fusion, smaller activations for the next GEMM), so it is
conservative about the rewrite. vLLM's threshold for comparison:
floor(8 MiB * TP / (H * b)) tokens on sm90 for H >= 8192 (mlir::sp::vllmMinTokens).

    build/venv/bin/python bench/gpu_model.py [--link-gbs 360] [--hbm-tbs 4.0] ...
"""

from __future__ import annotations

import argparse

from common import OUT, pyplot, write_table


def site_times(n: int, h: int, tp: int, b: int, fp8: bool, p) -> tuple[float, float]:
    s = n * h * b
    s_out = n * h * (1 if fp8 else b)
    link = p.link_gbs * 1e9
    hbm = p.hbm_tbs * 1e12
    frac = (tp - 1) / tp

    def norm(rows: int) -> float:
        moved = rows * h * (3 * b + (1 if fp8 else b)) + h * b
        return p.launch_us * 1e-6 + moved / hbm

    before = p.ar_us * 1e-6 + 2 * frac * s / link + norm(n)
    after = (p.rs_us * 1e-6 + frac * s / link + norm(n // tp)
             + p.ag_us * 1e-6 + frac * s_out / link)
    return before, after


def vllm_threshold(h: int, tp: int, b: int) -> int | None:
    if h < 8192:
        return None
    return 8 * 2**20 * tp // (h * b)


def break_even(h: int, tp: int, b: int, fp8: bool, p) -> int | None:
    n = tp
    while n <= 1 << 20:
        before, after = site_times(n, h, tp, b, fp8, p)
        if after <= before:
            return n
        n += tp
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--link-gbs", type=float, default=360.0)
    parser.add_argument("--hbm-tbs", type=float, default=4.0)
    parser.add_argument("--ar-us", type=float, default=15.0)
    parser.add_argument("--rs-us", type=float, default=10.0)
    parser.add_argument("--ag-us", type=float, default=10.0)
    parser.add_argument("--launch-us", type=float, default=3.0)
    p = parser.parse_args()

    rows = []
    for h in (4096, 8192, 16384):
        for tp in (2, 4, 8):
            for fp8 in (False, True):
                be = break_even(h, tp, 2, fp8, p)
                v = vllm_threshold(h, tp, 2)
                n = 4096
                before, after = site_times(n, h, tp, 2, fp8, p)
                rows.append([h, tp, "bf16 + fp8" if fp8 else "bf16", be if be else "never",
                             v if v is not None else "none (H < 8192)",
                             f"{before * 1e6:.1f}", f"{after * 1e6:.1f}", f"{before / after:.2f}x"])
                print(rows[-1])

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    tokens = [2**k for k in range(4, 16)]
    for ax, fp8 in zip(axes, (False, True)):
        for h, tp in ((4096, 2), (8192, 2), (8192, 8), (16384, 8)):
            speedup = []
            for n in tokens:
                n_ = max(tp, (n // tp) * tp)
                before, after = site_times(n_, h, tp, 2, fp8, p)
                speedup.append(before / after)
            line, = ax.semilogx(tokens, speedup, "o-", ms=3, label=f"H={h}, TP={tp}")
            v = vllm_threshold(h, tp, 2)
            if v:
                ax.axvline(v, color=line.get_color(), ls=":", lw=1)
        ax.axhline(1.0, color="gray", lw=1)
        ax.set_xlabel("tokens N")
        ax.set_title(("bf16 + FP8 quant" if fp8 else "bf16") + ": before / after per site")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("speedup (> 1: the rewrite pays)")
    fig.suptitle("analytic H200 model (dotted: vLLM's sm90 threshold)", fontsize=10)
    fig.tight_layout()
    fig.savefig(OUT / "gpu_model.png", dpi=110)
    write_table(
        "gpu_model", "Analytic GPU model: when does sequence parallelism pay?",
        f"Parameters: link {p.link_gbs} GB/s, HBM {p.hbm_tbs} TB/s, all_reduce latency "
        f"{p.ar_us} us, reduce_scatter {p.rs_us} us, all_gather {p.ag_us} us, kernel launch "
        f"{p.launch_us} us (assumptions for an H200 node, see the script). Break-even: smallest "
        "N (multiple of TP) where the site is not slower after the rewrite. Times per site at "
        "N = 4096 tokens.",
        ["hidden", "TP", "dtype", "break-even N", "vLLM sm90 min tokens",
         "before us (N=4096)", "after us (N=4096)", "speedup (N=4096)"],
        rows, "build/venv/bin/python bench/gpu_model.py")


if __name__ == "__main__":
    main()
