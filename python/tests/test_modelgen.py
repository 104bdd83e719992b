import re
import subprocess
import sys

import pytest

from sp_tools import modelgen


def count(text, op):
    return len(re.findall(rf"\bsp\.{op} ", text))


@pytest.mark.parametrize("layers", [1, 2, 5])
def test_structure(layers):
    text = modelgen.generate(modelgen.ModelConfig(layers=layers))
    assert count(text, "all_reduce") == 2 * layers + 1
    assert count(text, "rms_norm") == 1
    assert count(text, "fused_add_rms_norm") == 2 * layers
    assert count(text, "quant") == 0
    assert "sp.group @tp size(4)" in text
    assert text.count("{sp.replicated}") == 2 * layers + 1  # norm weights


def test_fp8_and_replicated_embedding():
    text = modelgen.generate(modelgen.ModelConfig(layers=2, fp8=True, embedding="replicated"))
    assert count(text, "quant") == 4
    assert count(text, "all_reduce") == 4
    assert "%hidden_states: tensor<128x64xbf16> {sp.replicated}" in text
    assert "tensor<64x48xf8E4M3FN>" in text  # fp8 GEMM weights


def test_dynamic_tokens_and_dtype():
    text = modelgen.generate(modelgen.ModelConfig(layers=1, dynamic_tokens=True, dtype="f16"))
    assert "tensor<?x64xf16>" in text
    assert "tensor.dim" in text


@pytest.mark.parametrize("kwargs,message", [
    ({"dtype": "f8"}, "dtype"),
    ({"tp": 5}, "divisible"),
    ({"layers": 0}, "layers"),
    ({"embedding": "table"}, "embedding"),
])
def test_invalid(kwargs, message):
    with pytest.raises(ValueError, match=message):
        modelgen.generate(modelgen.ModelConfig(**kwargs))


def test_cli(tmp_path):
    out = tmp_path / "m.mlir"
    run = subprocess.run([sys.executable, "-m", "sp_tools.modelgen", "--layers", "3", "-o", str(out)],
                         capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(__import__("pathlib").Path(modelgen.__file__).parents[1])})
    assert run.returncode == 0, run.stderr
    assert count(out.read_text(), "all_reduce") == 7
    bad = subprocess.run([sys.executable, "-m", "sp_tools.modelgen", "--tp", "7"],
                         capture_output=True, text=True,
                         env={"PYTHONPATH": str(__import__("pathlib").Path(modelgen.__file__).parents[1])})
    assert bad.returncode == 2
    assert "modelgen: error:" in bad.stderr
