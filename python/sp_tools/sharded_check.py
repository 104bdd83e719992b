"""Checks a shard-partitioned program against its unsharded original.

Runs the unsharded module on one rank and the partitioned one (after any sp
passes) on N ranks with the same global inputs, each rank getting its shards
of them, and compares every rank's outputs with its part of the unsharded
outputs within a tolerance. Which part of each argument and result a rank
holds comes from the `shard.sharding` annotations of the annotated module
(the input of `shard-partition`):

    python -m sp_tools.sharded_check --annotated m.annotated.mlir \\
        --unsharded m.mlir --sharded m.partitioned.sp.mlir --ranks 2

The partitioned module must already be in a form sp-run runs (sp's dialect:
run `sp-opt --sp-import-shard` first). Needs numpy and ml_dtypes (bf16).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass

import ml_dtypes
import numpy as np

_DTYPES = {"f32": np.float32, "f16": np.float16, "bf16": ml_dtypes.bfloat16,
           "f64": np.float64}


@dataclass
class Sharding:
    grid: str
    split_axes: list[list[int]]  # per tensor dim, the grid axes it is split over


def parse_tensor(text: str) -> tuple[tuple[int, ...], str]:
    """'tensor<4x16xbf16>' -> ((4, 16), 'bf16')."""
    body = re.fullmatch(r"tensor<(.*)>", text.strip()).group(1)
    *dims, element = body.split("x")
    return tuple(int(d) for d in dims), element


def entry_signature(path: str, entry: str):
    """The argument and result tensor types of `entry` in `path`."""
    text = open(path).read()
    match = re.search(r"func\.func @" + re.escape(entry) + r"\((.*?)\)\s*->\s*(.*?)\s*\{",
                      text, re.S)
    if not match:
        sys.exit(f"sharded_check: no function @{entry} in {path}")
    args = [parse_tensor(t) for t in
            re.findall(r"%arg\d+: (tensor<[^>]*>)", match.group(1))]
    results_text = match.group(2).strip()
    if results_text.startswith("("):
        results_text = results_text[1:-1]
    results = [parse_tensor(t) for t in re.findall(r"tensor<[^>]*>", results_text)]
    return args, results


def parse_annotations(path: str):
    """Grid shapes, each argument's sharding and each result's sharding."""
    text = open(path).read()
    grids = {name: tuple(int(d) for d in shape.split("x"))
             for name, shape in re.findall(r"shard\.grid @(\w+)\(shape = ([0-9x]+)\)", text)}
    shardings = {}
    for name, grid, axes in re.findall(
            r"(%\w+) = shard\.sharding @(\w+) split_axes = (\[.*?\]\])", text):
        shardings[name] = Sharding(grid, eval(axes))  # a nested list of ints
    args = {}
    for arg, sharding in re.findall(r"shard\.shard %arg(\d+) to (%\w+)", text):
        args[int(arg)] = shardings[sharding]
    results = []
    returned = re.findall(r"return (.*?) :", text)
    annotated = dict(re.findall(r"(%\w+) = shard\.shard %\w+ to (%\w+) annotate_for_users", text))
    if returned:
        for value in returned[-1].split(","):
            value = value.strip()
            results.append(shardings[annotated[value]] if value in annotated else None)
    return grids, args, results


def coordinates(rank: int, shape: tuple[int, ...]) -> list[int]:
    """Row-major coordinates of `rank` in a grid (last axis fastest)."""
    coords = []
    for extent in reversed(shape):
        coords.append(rank % extent)
        rank //= extent
    return coords[::-1]


def shard_of(array: np.ndarray, sharding: Sharding | None, grid: tuple[int, ...],
             rank: int) -> np.ndarray:
    """This rank's part of `array` under `sharding` (None: replicated)."""
    if sharding is None:
        return array
    coords = coordinates(rank, grid)
    for dim, axes in enumerate(sharding.split_axes):
        if not axes:
            continue
        chunks, index = 1, 0
        for axis in axes:
            index = index * grid[axis] + coords[axis]
            chunks *= grid[axis]
        size = array.shape[dim] // chunks
        array = np.take(array, range(index * size, (index + 1) * size), axis=dim)
    return array


def save(path: str, array: np.ndarray) -> None:
    """As sp-run reads it: bf16 as its raw bits ('<u2')."""
    if array.dtype == ml_dtypes.bfloat16:
        array = array.view(np.uint16)
    np.save(path, np.ascontiguousarray(array))


def load(path: str, element: str) -> np.ndarray:
    array = np.load(path)
    if element == "bf16":
        array = array.view(ml_dtypes.bfloat16)
    return array


def run(sp_run: str, module: str, ranks: int, inputs: str, outputs: str, entry: str):
    command = [sp_run, module, f"--ranks={ranks}", f"--inputs={inputs}",
               f"--outputs={outputs}", f"--entry={entry}"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"sharded_check: {' '.join(command)} failed:\n{result.stdout}{result.stderr}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotated", required=True, help="the module shard-partition took (for the shardings)")
    parser.add_argument("--unsharded", required=True, help="the unsharded module (run on one rank)")
    parser.add_argument("--sharded", required=True, help="the partitioned module in sp's dialect")
    parser.add_argument("--ranks", type=int, required=True)
    parser.add_argument("--entry", default="forward")
    parser.add_argument("--sp-run", default=os.path.join("build", "bin", "sp-run"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=float, default=0.25, help="standard deviation of the inputs")
    parser.add_argument("--rtol", type=float, required=True)
    parser.add_argument("--atol", type=float, required=True)
    args = parser.parse_args(argv)

    grids, arg_shardings, result_shardings = parse_annotations(args.annotated)
    if len(grids) != 1:
        sys.exit(f"sharded_check: expected one shard.grid in {args.annotated}, found {len(grids)}")
    grid = next(iter(grids.values()))
    if int(np.prod(grid)) != args.ranks:
        sys.exit(f"sharded_check: the grid {grid} has {int(np.prod(grid))} ranks, not {args.ranks}")
    global_args, global_results = entry_signature(args.unsharded, args.entry)
    local_args, local_results = entry_signature(args.sharded, args.entry)
    if len(global_args) != len(local_args) or len(global_results) != len(local_results):
        sys.exit("sharded_check: the two modules' signatures differ in length")

    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        full_in, full_out = os.path.join(tmp, "full_in"), os.path.join(tmp, "full_out")
        part_in, part_out = os.path.join(tmp, "part_in"), os.path.join(tmp, "part_out")
        os.makedirs(full_in)
        for rank in range(args.ranks):
            os.makedirs(os.path.join(part_in, f"rank{rank}"))
        for index, (shape, element) in enumerate(global_args):
            value = (rng.standard_normal(shape) * args.scale).astype(_DTYPES[element])
            save(os.path.join(full_in, f"arg{index}.npy"), value)
            for rank in range(args.ranks):
                part = shard_of(value, arg_shardings.get(index), grid, rank)
                if part.shape != local_args[index][0]:
                    sys.exit(f"sharded_check: %arg{index}: rank {rank}'s shard has shape "
                             f"{part.shape}, the sharded signature {local_args[index][0]}")
                save(os.path.join(part_in, f"rank{rank}", f"arg{index}.npy"), part)
        run(args.sp_run, args.unsharded, 1, full_in, full_out, args.entry)
        run(args.sp_run, args.sharded, args.ranks, part_in, part_out, args.entry)

        worst = 0.0
        failed = False
        for k, (shape, element) in enumerate(global_results):
            full = load(os.path.join(full_out, "rank0", f"output{k}.npy"), element).astype(np.float64)
            sharding = result_shardings[k] if k < len(result_shardings) else None
            for rank in range(args.ranks):
                expected = shard_of(full, sharding, grid, rank)
                got = load(os.path.join(part_out, f"rank{rank}", f"output{k}.npy"),
                           element).astype(np.float64)
                if got.shape != expected.shape:
                    sys.exit(f"sharded_check: output {k} on rank {rank} has shape {got.shape}, "
                             f"expected {expected.shape}")
                error = np.abs(got - expected)
                bound = args.atol + args.rtol * np.abs(expected)
                ok = bool(np.all(error <= bound))
                failed |= not ok
                ratio = float(np.max(error / bound))
                worst = max(worst, ratio)
                print(f"output {k} rank {rank}: max |error| {float(np.max(error)):.3g}, "
                      f"{ratio:.3f} of the tolerance: {'ok' if ok else 'MISMATCH'}")
        print(f"sharded_check: {'outputs differ beyond' if failed else 'outputs within'} "
              f"rtol={args.rtol} atol={args.atol} (worst: {worst:.3f} of the tolerance)")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
