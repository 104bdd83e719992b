"""Writes DIR/rankR/arg0.npy for R in [0, ranks): a 4x2 f32 tensor whose
element i on rank R is R * 100 + i."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "python"))
from sp_tools import npy  # noqa: E402

directory, ranks = sys.argv[1], int(sys.argv[2])
for r in range(ranks):
    os.makedirs(os.path.join(directory, f"rank{r}"), exist_ok=True)
    npy.write(os.path.join(directory, f"rank{r}", "arg0.npy"), "<f4", (4, 2),
              [r * 100.0 + i for i in range(8)])
