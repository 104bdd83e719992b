"""Writes a module that computes GEMMs and row-wise norms on whole tensors and
on row chunks of them, and returns both, so a test can check that tiling
along rows (any row count, any chunk size) never changes a result bit.

    cpu_codegen_chunks.py matmul --dtype f32|bf16|fp8|fp8-f32 --m M --n N --k K --chunks 1,5,8
    cpu_codegen_chunks.py norm --dtype bf16|f16|f32 --rows R --hidden H --chunks 1,3,8

Every output pair (whole, chunked) must be bitwise identical.
"""

import argparse

TYPES = {"f32": ("f32", "f32", "f32"), "bf16": ("bf16", "bf16", "bf16"),
         "fp8": ("f8E4M3FN", "f8E4M3FN", "bf16"), "fp8-f32": ("f8E4M3FN", "f8E4M3FN", "f32")}


def chunk_starts(total, sizes):
    """Row offsets of chunks cycling through `sizes` until `total` rows."""
    out, r, i = [], 0, 0
    while r < total:
        c = min(sizes[i % len(sizes)], total - r)
        out.append((r, c))
        r, i = r + c, i + 1
    return out


def matmul(args):
    a_t, b_t, c_t = TYPES[args.dtype]
    m, n, k = args.m, args.n, args.k
    A, B, C = f"tensor<{m}x{k}x{a_t}>", f"tensor<{k}x{n}x{b_t}>", f"tensor<{m}x{n}x{c_t}>"
    lines = [f"func.func @gemm(%a: {A}, %b: {B}) -> ({C}, {C}) {{",
             f"  %zero = arith.constant 0.0 : {c_t}",
             f"  %e = tensor.empty() : {C}",
             f"  %z = linalg.fill ins(%zero : {c_t}) outs(%e : {C}) -> {C}",
             f"  %whole = linalg.matmul ins(%a, %b : {A}, {B}) outs(%z : {C}) -> {C}"]
    acc = "%e"
    for i, (r, c) in enumerate(chunk_starts(m, args.chunks)):
        Ac, Cc = f"tensor<{c}x{k}x{a_t}>", f"tensor<{c}x{n}x{c_t}>"
        lines += [f"  %a{i} = tensor.extract_slice %a[{r}, 0] [{c}, {k}] [1, 1] : {A} to {Ac}",
                  f"  %e{i} = tensor.empty() : {Cc}",
                  f"  %z{i} = linalg.fill ins(%zero : {c_t}) outs(%e{i} : {Cc}) -> {Cc}",
                  f"  %p{i} = linalg.matmul ins(%a{i}, %b : {Ac}, {B}) outs(%z{i} : {Cc}) -> {Cc}",
                  f"  %r{i} = tensor.insert_slice %p{i} into {acc}[{r}, 0] [{c}, {n}] [1, 1] : {Cc} into {C}"]
        acc = f"%r{i}"
    lines += [f"  return %whole, {acc} : {C}, {C}", "}"]
    return "\n".join(lines) + "\n"


def norm(args):
    t, rows, h = args.dtype, args.rows, args.hidden
    X, W, Q = f"tensor<{rows}x{h}x{t}>", f"tensor<{h}x{t}>", f"tensor<{rows}x{h}xf8E4M3FN>"
    eps = "1.0e-05"
    lines = [f"func.func @norms(%x: {X}, %r: {X}, %w: {W}, %s: tensor<f32>) -> ({X}, {X}, {Q}, {X}, {X}, {Q}) {{",
             f"  %n = sp.rms_norm %x, %w epsilon = {eps} : {X}, {W}",
             f"  %o, %res = sp.fused_add_rms_norm %x, %r, %w epsilon = {eps} : {X}, {W}",
             f"  %q = sp.quant %o, %s : {X} -> {Q}",
             f"  %e = tensor.empty() : {X}",
             f"  %eq = tensor.empty() : {Q}"]
    acc_n, acc_o, acc_q = "%e", "%e", "%eq"
    for i, (r, c) in enumerate(chunk_starts(rows, args.chunks)):
        Xc, Qc = f"tensor<{c}x{h}x{t}>", f"tensor<{c}x{h}xf8E4M3FN>"
        lines += [f"  %x{i} = tensor.extract_slice %x[{r}, 0] [{c}, {h}] [1, 1] : {X} to {Xc}",
                  f"  %r{i} = tensor.extract_slice %r[{r}, 0] [{c}, {h}] [1, 1] : {X} to {Xc}",
                  f"  %n{i} = sp.rms_norm %x{i}, %w epsilon = {eps} : {Xc}, {W}",
                  f"  %o{i}, %res{i} = sp.fused_add_rms_norm %x{i}, %r{i}, %w epsilon = {eps} : {Xc}, {W}",
                  f"  %q{i} = sp.quant %o{i}, %s : {Xc} -> {Qc}",
                  f"  %cn{i} = tensor.insert_slice %n{i} into {acc_n}[{r}, 0] [{c}, {h}] [1, 1] : {Xc} into {X}",
                  f"  %co{i} = tensor.insert_slice %o{i} into {acc_o}[{r}, 0] [{c}, {h}] [1, 1] : {Xc} into {X}",
                  f"  %cq{i} = tensor.insert_slice %q{i} into {acc_q}[{r}, 0] [{c}, {h}] [1, 1] : {Qc} into {Q}"]
        acc_n, acc_o, acc_q = f"%cn{i}", f"%co{i}", f"%cq{i}"
    lines += [f"  return %n, %o, %q, {acc_n}, {acc_o}, {acc_q} : {X}, {X}, {Q}, {X}, {X}, {Q}", "}"]
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["matmul", "norm"])
    p.add_argument("--dtype", default="f32")
    p.add_argument("--m", type=int, default=64)
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--k", type=int, default=64)
    p.add_argument("--rows", type=int, default=64)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--chunks", default="1,5,8")
    p.add_argument("-o", "--output", required=True)
    args = p.parse_args()
    args.chunks = [int(c) for c in args.chunks.split(",")]
    text = matmul(args) if args.kind == "matmul" else norm(args)
    with open(args.output, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
