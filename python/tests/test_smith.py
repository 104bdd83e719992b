"""The sp-smith driver's shrinker and remark checks."""

import subprocess

import pytest

from sp_tools import smith, tools


def built():
    try:
        for name in ("sp-opt", "sp-run", "sp-smith"):
            tools.find_tool(name)
        return True
    except tools.ToolError:
        return False


needs_tools = pytest.mark.skipif(not built(), reason="sp tools not built")


def test_shrink_on_a_list():
    # Steps: drop one word. The finding: the text still holds "c" and "e".
    def count(text):
        return len(text.split())

    def mutate(text, k):
        words = text.split()
        if k >= len(words):
            return None
        return " ".join(words[:k] + words[k + 1:])

    reduced, tests = smith.shrink("a b c d e f", lambda t: "c" in t and "e" in t, count, mutate)
    assert reduced == "c e"
    assert tests > 0


def test_shrink_skips_invalid_steps_and_respects_budget():
    calls = []

    def mutate(text, k):
        calls.append(k)
        return None  # every step breaks the module

    reduced, tests = smith.shrink("x y", lambda t: True, lambda t: 2, mutate)
    assert reduced == "x y" and tests == 0 and calls == [0, 1]
    reduced, tests = smith.shrink("x y", lambda t: True, lambda t: 2, mutate, budget_s=0)
    assert reduced == "x y" and tests == 0


def test_remark_problems():
    src = "\n".join([
        "sp.group @tp size(2)",
        "func.func @main(%x: tensor<8x8xf32>) -> tensor<8x8xf32> {",
        "  %a = sp.all_reduce %x over @tp {smith.trap} : tensor<8x8xf32>",
        "  %b = sp.all_reduce %a over @tp : tensor<8x8xf32>",
        "  return %b : tensor<8x8xf32>",
        "}",
    ])
    # Line 3 rewritten away (a trap!), line 4 left alone without a remark.
    out = '%1 = sp.all_reduce %0 over @tp : tensor<8x8xf32> loc(#loc4)\n#loc4 = loc("in.mlir":4:8)\n'
    problems = smith.remark_problems(src, out, "")
    assert [k for k, _ in problems] == ["trap-rewritten", "missing-remark"]
    # Both left alone, both with a remark: fine.
    out = ('%0 = sp.all_reduce %x over @tp {smith.trap} : tensor<8x8xf32> loc("in.mlir":3:8)\n'
           '%1 = sp.all_reduce %0 over @tp : tensor<8x8xf32> loc(#loc4)\n#loc4 = loc("in.mlir":4:8)\n')
    remarks = ("in.mlir:3:8: remark: all_reduce left alone: x\n"
               "in.mlir:4:8: remark: all_reduce left alone: y\n")
    assert smith.remark_problems(src, out, remarks) == []


@needs_tools
def test_shrink_a_generated_module():
    driver = smith.Driver(out_dir=None)
    text = driver.generate(seed=3, ranks=4)
    assert "sp.rms_norm" in text

    def interesting(candidate):
        return "sp.rms_norm" in candidate

    reduced, tests = driver.shrink(text, interesting, budget_s=120)
    assert "sp.rms_norm" in reduced
    assert smith._count_ops(reduced) < smith._count_ops(text)
    assert smith._count_ops(reduced) <= 3
    # Every step leaves a module that verifies.
    p = subprocess.run([tools.find_tool("sp-opt"), "-", "--verify-roundtrip", "-o", "/dev/null"],
                       input=reduced, text=True, capture_output=True)
    assert p.returncode == 0, p.stderr


@needs_tools
def test_driver_check_finds_a_wrong_pass():
    # A pipeline that reverses the first ring shift's direction must mismatch
    # on 4 ranks when the module shifts by 1.
    src = "\n".join([
        "sp.group @tp size(4)",
        "func.func @main(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {",
        "  %c1 = arith.constant 1 : index",
        "  %y = sp.ring_shift %x over @tp by %c1 : tensor<4x4xf32>",
        "  return %y : tensor<4x4xf32>",
        "}",
    ])
    driver = smith.Driver(out_dir=None)
    config = smith.RunConfig("test-sp-reverse-ring-shifts{limit=1}", 4, "cpu")
    finding = driver.run_check(smith.Check("run", config.describe(), config.pipeline,
                                           config=config), src)
    assert finding is not None and finding.kind == "mismatch"
