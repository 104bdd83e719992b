"""Checks that docs/Passes.md names every sp pass of `sp-opt --help` in its
reference table, with every option (`name=` or `name`) in that pass's row."""
import re
import sys

help_text = open(sys.argv[1]).read()
doc = open(sys.argv[2]).read()

passes = {}
current = None
for line in help_text.splitlines():
    m = re.match(r"^      --((?:test-)?sp-[a-z0-9-]+)\s", line)
    if m:
        current = m[1]
        passes[current] = []
        continue
    m = re.match(r"^        --([a-z0-9-]+)", line)
    if m and current:
        passes[current].append(m[1])
        continue
    if not line.startswith("        "):
        current = None

rows = {}
for line in doc.splitlines():
    m = re.match(r"^\| `([a-z0-9-]+)`", line)
    if m:
        rows[m[1]] = line

missing = []
if not passes:
    missing.append("no sp pass found in sp-opt --help")
for name, options in sorted(passes.items()):
    if name not in rows:
        missing.append(f"pass {name} has no row")
        continue
    for option in options:
        if f"`{option}=" not in rows[name] and f"`{option}`" not in rows[name]:
            missing.append(f"option {option} of {name} is not in its row")
for problem in missing:
    print("docs/Passes.md:", problem)
print(f"checked {len(passes)} passes, {sum(map(len, passes.values()))} options")
sys.exit(1 if missing else 0)
