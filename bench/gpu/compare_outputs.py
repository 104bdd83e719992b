"""Compares the .npy outputs of two sp-run runs (e.g. --backend=cpu and
--backend=cuda) element by element, in units in the last place.

  python3 bench/gpu/compare_outputs.py CPU_DIR CUDA_DIR --exact 2,4,6 [--max-ulps 1]

Floats are compared through their bits as sign-magnitude integers, so the
distance is the number of representable values between the two (bf16 and
fp8 are stored as raw bits by sp-run). Prints one line per output and exits
with 1 if an output listed in --exact differs at all or any other output
differs by more than --max-ulps.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
from sp_tools import npy  # noqa: E402

_SIGN = {"<u2": 0x8000, "|u1": 0x80, "<f2": 0x8000, "<f4": 0x80000000, "<f8": 1 << 63}


def ordered(descr: str, values):
    """Maps float bit patterns to integers in the floats' order."""
    if descr == "<f4":
        values = struct.unpack(f"<{len(values)}I", struct.pack(f"<{len(values)}f", *values))
    elif descr == "<f2":
        values = struct.unpack(f"<{len(values)}H", struct.pack(f"<{len(values)}e", *values))
    elif descr == "<f8":
        values = struct.unpack(f"<{len(values)}Q", struct.pack(f"<{len(values)}d", *values))
    sign = _SIGN.get(descr)
    if sign is None:  # integers
        return list(values)
    return [-(v & (sign - 1)) if v & sign else v for v in values]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference")
    parser.add_argument("candidate")
    parser.add_argument("--exact", default="", help="output indices that must be bitwise equal")
    parser.add_argument("--max-ulps", type=int, default=1)
    args = parser.parse_args()
    exact = {int(i) for i in args.exact.split(",") if i}
    failed = False
    rank_dir = "rank0"
    names = sorted(os.listdir(os.path.join(args.reference, rank_dir)),
                   key=lambda n: int(n.removeprefix("output").removesuffix(".npy")))
    print(f"{'output':<8} {'type':<6} {'elements':>10} {'differ':>10} {'max ulps':>9}  bound")
    for name in names:
        index = int(name.removeprefix("output").removesuffix(".npy"))
        paths = [os.path.join(d, rank_dir, name) for d in (args.reference, args.candidate)]
        with open(paths[0], "rb") as fa, open(paths[1], "rb") as fb:
            if fa.read() == fb.read():  # the common case, without decoding
                descr, shape = npy.header(paths[0])
                count = 1
                for d in shape:
                    count *= d
                print(f"{index:<8} {descr:<6} {count:>10} {0:>10} {0:>9}  "
                      f"<= {0 if index in exact else args.max_ulps}")
                continue
        descr, shape, a = npy.read(os.path.join(args.reference, rank_dir, name))
        descr_b, shape_b, b = npy.read(os.path.join(args.candidate, rank_dir, name))
        if (descr, shape) != (descr_b, shape_b):
            print(f"{index:<8} type/shape mismatch: {descr}{shape} vs {descr_b}{shape_b}")
            failed = True
            continue
        oa, ob = ordered(descr, a), ordered(descr, b)
        differ = sum(1 for x, y in zip(oa, ob) if x != y)
        worst = max((abs(x - y) for x, y in zip(oa, ob)), default=0)
        bound = 0 if index in exact else args.max_ulps
        ok = worst <= bound
        failed |= not ok
        print(f"{index:<8} {descr:<6} {len(a):>10} {differ:>10} {worst:>9}  <= {bound}"
              f"{'' if ok else '  FAIL'}")
    print("outputs agree" if not failed else "outputs DIFFER beyond the bounds")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
