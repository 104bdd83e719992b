"""Writes inputs for two-ranks.mlir that are wrong in the way argv[2] says."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "python"))
from sp_tools import npy  # noqa: E402

directory, kind = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(directory, "rank1"), exist_ok=True)
if kind == "shape":      # every rank: arg0 is 4x9 instead of 4x8
    npy.write(os.path.join(directory, "arg0.npy"), "<f4", (4, 9), [0.0] * 36)
elif kind == "dtype":    # f64 where f32 is expected
    npy.write(os.path.join(directory, "arg0.npy"), "<f8", (4, 8), [0.0] * 32)
elif kind == "rank1":    # only rank 1's file is wrong: that rank fails alone
    npy.write(os.path.join(directory, "rank1", "arg0.npy"), "<f4", (2, 8), [0.0] * 16)
elif kind == "garbage":
    with open(os.path.join(directory, "arg0.npy"), "wb") as f:
        f.write(b"not an npy file")
elif kind == "rows":     # dynamic rows: 4 on rank 0, 3 on rank 1
    os.makedirs(os.path.join(directory, "rank0"), exist_ok=True)
    npy.write(os.path.join(directory, "rank0", "arg0.npy"), "<f4", (4, 4), [1.0] * 16)
    npy.write(os.path.join(directory, "rank1", "arg0.npy"), "<f4", (3, 4), [1.0] * 12)
elif kind == "truncated":  # rank 1 only: a valid header, 100 of 128 data bytes
    npy.write(os.path.join(directory, "rank1", "arg0.npy"), "<f4", (4, 8), [0.0] * 32)
    path = os.path.join(directory, "rank1", "arg0.npy")
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[:len(data) - 28])
