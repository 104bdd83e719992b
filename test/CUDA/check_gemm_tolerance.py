"""Inputs for, and checks of, the collective matmul GEMMs on the mock GPU.

No numpy (the lit tests run it with the system python3): sp_tools.npy reads
and writes sp-run's .npy files.

  inputs DIR --ranks N --arg TYPE:ROWSxCOLS ...
      writes DIR/rankR/argI.npy, different values per rank: uniform in
      [-1, 1) rounded to TYPE (f32, f16, bf16), or fp8 e4m3fn codes of
      magnitude in [2^-3, 4) (f8E4M3FN)
  check --inputs DIR --cpu DIR --gpu DIR --ranks N \
        --gemm "output=K op=ag|rs lhs=I rhs=J out=bf16|f16|f32" ...
      requires, for every element of output K on every rank,
        |gpu - cpu| <= (1 + (t + 3) u) ((k + 3) u S + 2 u max(|gpu|, |cpu|)
                                         + (t + p) 2^-24 S) + 2^-24 t
      with S the sum of |a_l b_l| over the contraction (op=rs: and over the
      p ranks' partial products), t = k (op=rs: k p) its number of terms,
      and u the unit roundoff of the output type (2^-8 bf16, 2^-11 f16,
      2^-24 f32). The CPU path converts the operands to the output type and
      rounds products (not bf16's) and every partial sum to it, so it may be
      (k + 2) u S from the exact value; cuBLASLt sums in f32 (error below
      t 2^-24 S) and rounds once (u |gpu|); op=rs then sums the partials in
      f32 and rounds once on both sides (Higham, Accuracy and Stability of
      Numerical Algorithms, ch. 3)
  same --cpu DIR --gpu DIR --ranks N --outputs K,L,...
      the listed outputs bit for bit
  relative --cpu DIR --gpu DIR --ranks N --max-rms R
      ||gpu - cpu||_2 <= R ||cpu||_2 for every output, and all finite
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys

from sp_tools import npy

UNIT = {"bf16": 2.0 ** -8, "f16": 2.0 ** -11, "f32": 2.0 ** -24}


def fp8_value(code: int) -> float:
    """An e4m3fn code as a float (NaN for S.1111.111)."""
    sign = -1.0 if code & 0x80 else 1.0
    exponent, mantissa = (code >> 3) & 0xF, code & 7
    if exponent == 15 and mantissa == 7:
        return math.nan
    if exponent == 0:
        return sign * mantissa / 8.0 * 2.0 ** -6
    return sign * (1.0 + mantissa / 8.0) * 2.0 ** (exponent - 7)


def decode(descr: str, values, element: str | None = None):
    """sp-run's storage to floats (bf16 and fp8 are raw bits)."""
    if descr == "<u2":
        return [npy.from_bf16_bits(v) for v in values]
    if descr in ("|u1", "<u1"):
        return [fp8_value(v) for v in values]
    return [float(v) for v in values]


def load(path: str):
    descr, shape, values = npy.read(path)
    return shape, decode(descr, values)


def write_inputs(args) -> None:
    rng = random.Random(args.seed)
    specs = []
    for arg in args.arg:
        kind, shape = arg.split(":")
        rows, cols = (int(d) for d in shape.split("x"))
        specs.append((kind, rows, cols))
    for rank in range(args.ranks):
        folder = os.path.join(args.dir, f"rank{rank}")
        os.makedirs(folder, exist_ok=True)
        for index, (kind, rows, cols) in enumerate(specs):
            count = rows * cols
            path = os.path.join(folder, f"arg{index}.npy")
            if kind == "f8E4M3FN":
                codes = [rng.randrange(0x20, 0x48) | (0x80 * rng.randrange(2))
                         for _ in range(count)]
                npy.write(path, "|u1", (rows, cols), codes)
                continue
            floats = [rng.uniform(-1.0, 1.0) for _ in range(count)]
            if kind == "bf16":
                npy.write(path, "<u2", (rows, cols), [npy.bf16_bits(v) for v in floats])
            elif kind == "f16":
                npy.write(path, "<f2", (rows, cols), floats)
            elif kind == "f32":
                npy.write(path, "<f4", (rows, cols), floats)
            else:
                sys.exit(f"unknown input type {kind}")


def parse_gemm(text: str) -> dict:
    fields = dict(item.split("=") for item in text.split())
    for key in ("output", "lhs", "rhs"):
        fields[key] = int(fields[key])
    if fields["op"] not in ("ag", "rs") or fields["out"] not in UNIT:
        sys.exit(f"bad --gemm {text!r}")
    return fields


def check(args) -> int:
    failures = 0
    for text in args.gemm:
        gemm = parse_gemm(text)
        u = UNIT[gemm["out"]]
        lhs = [load(os.path.join(args.inputs, f"rank{r}", f"arg{gemm['lhs']}.npy"))
               for r in range(args.ranks)]
        rhs = [load(os.path.join(args.inputs, f"rank{r}", f"arg{gemm['rhs']}.npy"))
               for r in range(args.ranks)]
        (m, k), (_, n) = lhs[0][0], rhs[0][0]
        worst, differing, count = 0.0, 0, 0
        for rank in range(args.ranks):
            name = f"output{gemm['output']}.npy"
            shape, cpu = load(os.path.join(args.cpu, f"rank{rank}", name))
            _, gpu = load(os.path.join(args.gpu, f"rank{rank}", name))
            rows, cols = shape
            for i in range(rows):
                for j in range(cols):
                    if gemm["op"] == "ag":
                        # Row i: rank i // m's lhs row i % m, this rank's rhs.
                        a = lhs[i // m][1][(i % m) * k:(i % m + 1) * k]
                        b = rhs[rank][1]
                        s = sum(abs(a[l] * b[l * n + j]) for l in range(k))
                    else:
                        # Row i: the sum over ranks of their lhs row
                        # rank * rows + i times their rhs.
                        row = rank * rows + i
                        s = sum(abs(lhs[p][1][row * k + l] * rhs[p][1][l * n + j])
                                for p in range(args.ranks) for l in range(k))
                    c, g = cpu[i * cols + j], gpu[i * cols + j]
                    if not (math.isfinite(c) and math.isfinite(g)):
                        print(f"output {gemm['output']} rank {rank} [{i}][{j}]: "
                              f"cpu {c} gpu {g}")
                        failures += 1
                        continue
                    terms = k * (args.ranks if gemm["op"] == "rs" else 1)
                    bound = (1 + (terms + 3) * u) * (
                        (k + 3) * u * s + 2 * u * max(abs(g), abs(c)) +
                        (terms + args.ranks) * 2.0 ** -24 * s) + 2.0 ** -24 * terms
                    difference = abs(g - c)
                    count += 1
                    differing += difference != 0
                    worst = max(worst, difference / bound)
                    if difference > bound:
                        failures += 1
                        if failures <= 10:
                            print(f"output {gemm['output']} rank {rank} [{i}][{j}]: "
                                  f"|{g} - {c}| = {difference} > {bound}")
        print(f"output {gemm['output']} ({gemm['op']}, {gemm['out']}, k={k}): "
              f"{differing} of {count} elements differ, worst "
              f"{worst:.3f} of the bound")
    if failures:
        print(f"{failures} elements outside the bound")
        return 1
    print("within the bound")
    return 0


def same(args) -> int:
    status = 0
    for output in args.outputs.split(","):
        for rank in range(args.ranks):
            name = os.path.join(f"rank{rank}", f"output{output}.npy")
            with open(os.path.join(args.cpu, name), "rb") as f:
                cpu = f.read()
            with open(os.path.join(args.gpu, name), "rb") as f:
                gpu = f.read()
            if cpu != gpu:
                print(f"output {output} rank {rank} differs")
                status = 1
    print("bitwise identical" if status == 0 else "outputs differ")
    return status


def relative(args) -> int:
    status = 0
    names = sorted(os.listdir(os.path.join(args.cpu, "rank0")))
    for rank in range(args.ranks):
        for name in names:
            _, cpu = load(os.path.join(args.cpu, f"rank{rank}", name))
            _, gpu = load(os.path.join(args.gpu, f"rank{rank}", name))
            if not all(math.isfinite(v) for v in gpu):
                print(f"rank {rank} {name}: not finite")
                status = 1
                continue
            difference = math.sqrt(sum((g - c) ** 2 for g, c in zip(gpu, cpu)))
            norm = math.sqrt(sum(c * c for c in cpu))
            ratio = difference / norm if norm else difference
            if ratio > args.max_rms:
                print(f"rank {rank} {name}: relative RMS difference {ratio:.4f}")
                status = 1
    print(f"relative RMS difference within {args.max_rms}" if status == 0
          else "outputs differ too much")
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("inputs")
    p.add_argument("dir")
    p.add_argument("--ranks", type=int, required=True)
    p.add_argument("--arg", action="append", required=True)
    p.add_argument("--seed", type=int, default=0)
    p = commands.add_parser("check")
    for option in ("--inputs", "--cpu", "--gpu"):
        p.add_argument(option, required=True)
    p.add_argument("--ranks", type=int, required=True)
    p.add_argument("--gemm", action="append", required=True)
    p = commands.add_parser("same")
    p.add_argument("--cpu", required=True)
    p.add_argument("--gpu", required=True)
    p.add_argument("--ranks", type=int, required=True)
    p.add_argument("--outputs", required=True)
    p = commands.add_parser("relative")
    p.add_argument("--cpu", required=True)
    p.add_argument("--gpu", required=True)
    p.add_argument("--ranks", type=int, required=True)
    p.add_argument("--max-rms", type=float, required=True)
    args = parser.parse_args()
    if args.command == "inputs":
        write_inputs(args)
        return 0
    return {"check": check, "same": same, "relative": relative}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
