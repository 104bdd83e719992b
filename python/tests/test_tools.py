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
