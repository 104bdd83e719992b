"""Seeds for sp-fuzz: every `// -----` chunk of every lit test input, plus
small generated models. Usage: make_corpus.py OUTPUT_DIR"""
import hashlib
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..")
sys.path.insert(0, os.path.join(root, "python"))
from sp_tools import modelgen  # noqa: E402

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
chunks = []
for directory, _, files in os.walk(os.path.join(root, "test")):
    for name in sorted(files):
        if name.endswith(".mlir"):
            with open(os.path.join(directory, name)) as f:
                chunks += f.read().split("// -----")
for cfg in (modelgen.ModelConfig(layers=1, tokens=8, hidden=8, intermediate=8, tp=2),
            modelgen.ModelConfig(layers=1, tokens=8, hidden=8, intermediate=8, tp=2, fp8=True),
            modelgen.ModelConfig(layers=1, tokens=8, hidden=8, intermediate=8, tp=2,
                                 embedding="replicated", return_residual=True)):
    chunks.append(modelgen.generate(cfg))
for regression in sorted(os.listdir(os.path.join(here, "regressions"))):
    with open(os.path.join(here, "regressions", regression)) as f:
        chunks.append(f.read())
for chunk in chunks:
    # Keep the IR, drop the comment lines (RUN/CHECK lines are noise here).
    text = "\n".join(l for l in chunk.splitlines() if not l.lstrip().startswith("//"))
    if text.strip():
        name = hashlib.sha1(text.encode()).hexdigest()[:16]
        with open(os.path.join(out, name), "w") as f:
            f.write(text)
print(f"{len(os.listdir(out))} seeds in {out}")
