from pathlib import Path

import pytest

from sp_tools import modelgen, tools


def built():
    try:
        tools.find_tool("sp-opt")
        tools.find_tool("sp-run")
        return True
    except tools.ToolError:
        return False


pytestmark = pytest.mark.skipif(not built(), reason="sp tools not built")


def test_sp_opt_report_and_counts():
    text = modelgen.generate(modelgen.ModelConfig(layers=3, fp8=True))
    result = tools.sp_opt(text, ["--sp-sequence-parallelism", "--canonicalize"])
    report = result.report
    assert report["sites"] == {"all_reduce": 7, "rewritten": 7, "left_alone": 0, "not_reached": 0}
    assert report["after"]["all_reduce"] == 0
    assert report["after"]["reduce_scatter"] == 7
    assert report["after"]["bytes_per_rank"] < report["before"]["bytes_per_rank"]
    assert result.ir.count("sp.reduce_scatter ") == 7
    assert result.remarks == []


def test_sp_opt_remarks():
    text = modelgen.generate(modelgen.ModelConfig(layers=1, tokens=64))
    result = tools.sp_opt(text, ["--sp-sequence-parallelism=min-tokens=128"])
    assert len(result.remarks) == 3
    assert all("64 tokens are below min-tokens=128" in r.message for r in result.remarks)
    assert result.report["sites"]["left_alone"] == 3


def test_sp_opt_error():
    with pytest.raises(tools.ToolError, match="unknown group"):
        tools.sp_opt("func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {\n"
                     "  %0 = sp.all_reduce %x over @nope : tensor<4xf32>\n"
                     "  return %0 : tensor<4xf32>\n}\n", [], report=False)


def test_sp_run_compare(tmp_path):
    path = tmp_path / "m.mlir"
    path.write_text(modelgen.generate(modelgen.ModelConfig(
        layers=1, tokens=32, hidden=16, intermediate=32, tp=2, fp8=True)))
    result = tools.sp_run(path, ranks=2, compare="sp-sequence-parallelism,canonicalize")
    assert result.match is True, result.stdout + result.stderr
    assert [c.identical for c in result.comparison] == [True]
    plain = tools.sp_run(path, ranks=2, check=True)
    assert plain.comparison is None
    assert plain.outputs[0].type == "tensor<32x16xbf16>"
    assert len(plain.outputs[0].fingerprints) == 2
    # All ranks hold the same gathered output.
    assert len(set(plain.outputs[0].fingerprints)) == 1


def test_sp_run_cuda_backend_emulated(tmp_path):
    """The CUDA lowering through the emulated runtime gives the CPU path's
    outputs bit for bit (same fingerprints)."""
    path = tmp_path / "m.mlir"
    path.write_text(modelgen.generate(modelgen.ModelConfig(
        layers=1, tokens=32, hidden=16, intermediate=32, tp=2, fp8=True)))
    emulated = Path(tools.find_tool("sp-run")).parent.parent / "lib" / "libsp_cuda_runtime_emulated.so"
    cpu = tools.sp_run(path, ranks=2, check=True)
    cuda = tools.sp_run(path, ranks=2, check=True, backend="cuda", cuda_runtime=emulated)
    assert [o.fingerprints for o in cuda.outputs] == [o.fingerprints for o in cpu.outputs]
    compared = tools.sp_run(path, ranks=2, backend="cuda", cuda_runtime=emulated,
                            compare="sp-sequence-parallelism")
    assert compared.match is True, compared.stdout + compared.stderr


def test_sp_run_report(tmp_path):
    """sp-run's JSON report: per-rank fingerprints and values, per-rank
    timings, and the comparison of a deliberately wrong rewrite."""
    path = tmp_path / "m.mlir"
    path.write_text(modelgen.generate(modelgen.ModelConfig(
        layers=1, tokens=8, hidden=4, intermediate=8, tp=2, embedding="replicated")))
    result = tools.sp_run(path, ranks=2, print_values=True, repeat=2, check=True)
    report = result.report
    assert report["tool"] == "sp-run" and report["ranks"] == 2 and report["backend"] == "cpu"
    assert len(report["first_call_s"]) == 2
    timing = report["timings"]["module"]
    assert report["timings"]["calls"] == 2 and len(timing["per_rank_median_s"]) == 2
    assert timing["slowest_rank_median_s"] >= max(timing["per_rank_median_s"]) * 0.5
    out = result.outputs[0]
    assert out.type == "tensor<8x4xbf16>" and len(out.values) == 2 and len(out.values[0]) == 32
    # Every rank-local slice wrong: the comparison names the differences.
    wrong = tools.sp_run(path, ranks=2,
                         compare="sp-sequence-parallelism,test-sp-slice-first-rows")
    assert wrong.returncode == 1 and wrong.match is False
    line = wrong.comparison[0]
    assert not line.identical and line.detail.startswith("DIFFERS:"), line
    entry = wrong.report["comparison"]["outputs"][0]
    # Rank 1 uses rank 0's rows; the gathered output differs on both ranks.
    assert entry["ranks_differing"] == 2 and 0 < entry["differing_elements"] < entry["elements"]
