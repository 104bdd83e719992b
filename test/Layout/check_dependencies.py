"""Checks that sp's components depend on each other one way only.

A component is a folder under include/sp and its mirror under lib (e.g.
Dialect/SP/Analysis). Edges come from `#include "sp/..."` lines in both
(not from generated .inc files, which depend on nothing), and
from the LINK_LIBS of add_sp_library in lib/**/CMakeLists.txt. Either graph
having a cycle is an error (each is printed)."""
import os
import re
import sys

root = sys.argv[1]
INCLUDE = os.path.join(root, "include", "sp")
LIB = os.path.join(root, "lib")


def component(rel: str) -> str:
    """The component of a path relative to include/sp or lib."""
    parts = rel.split(os.sep)[:-1]
    # Conversion/Passes.h is the umbrella of the conversions.
    return "/".join(parts) or "."


def include_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for base in (INCLUDE, LIB):
        for dirpath, _, files in os.walk(base):
            for name in files:
                if not name.endswith((".h", ".cpp", ".td", ".pdll")):
                    continue
                path = os.path.join(dirpath, name)
                src = component(os.path.relpath(path, base))
                for line in open(path, encoding="utf-8"):
                    m = re.match(r'\s*(?:#\s*)?include\s+"sp/([^"]+)"', line)
                    # Generated declarations (.inc) depend on nothing.
                    if m and not m[1].endswith(".inc"):
                        dst = component(m[1])
                        if dst != src:
                            graph.setdefault(src, set()).add(dst)
    return graph


def link_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for dirpath, _, files in os.walk(LIB):
        if "CMakeLists.txt" not in files:
            continue
        text = open(os.path.join(dirpath, "CMakeLists.txt")).read()
        for m in re.finditer(r"add_sp_library\((\w+)(.*?)\n\)", text, re.S):
            name, body = m[1], m[2]
            links = re.search(r"LINK_LIBS(.*)", body, re.S)
            deps = set(re.findall(r"\b(SP\w+)\b", links[1])) if links else set()
            graph[name] = deps - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "active"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "active":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


bad = False
for kind, graph in (("include", include_graph()), ("link", link_graph())):
    edges = sum(len(v) for v in graph.values())
    print(f"{kind} graph: {len(graph)} components, {edges} edges")
    for cycle in cycles(graph):
        print(f"{kind} cycle: " + " -> ".join(cycle))
        bad = True
sys.exit(1 if bad else 0)
