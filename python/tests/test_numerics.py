"""The numpy references: known values, the FP8 rules, ml_dtypes where
installed, and bit-exact agreement with the compiled CPU code (sp-run)."""
import math
import os
import tempfile

import pytest

np = pytest.importorskip("numpy")

from sp_tools import npy, numerics, tools  # noqa: E402


def test_rms_norm_known_values():
    x = np.array([[1, 2, 3, 4]], dtype=np.float32)
    out = numerics.rms_norm(x, np.ones(4, np.float32), 1e-6, "bf16")
    assert out.tolist() == [[0.365234375, 0.73046875, 1.09375, 1.4609375]]


def test_fused_add_rounds_the_sum_first():
    x = np.ones((1, 2), np.float32)
    r = np.array([[2.0 ** -9, 0.0]], np.float32)
    out, z = numerics.fused_add_rms_norm(x, r, np.ones(2, np.float32), 1e-6, "bf16")
    assert z.tolist() == [[1.0, 1.0]]
    assert out[0, 0] == out[0, 1]


def test_fp8_rules():
    enc = numerics.fp8_encode
    assert enc(np.float32([448, 464, 464.5, -464.5]), "e4m3fn").tolist() == [0x7E, 0x7E, 0x7F, 0xFF]
    assert enc(np.float32([240, 247, 248]), "e4m3fnuz").tolist() == [0x7F, 0x7F, 0x80]
    assert enc(np.float32([2 ** -9, 2 ** -10, 1.5 * 2 ** -9, -0.0]), "e4m3fn").tolist() == [1, 0, 2, 0x80]
    assert enc(np.float32([-0.0, np.inf, np.nan]), "e4m3fnuz").tolist() == [0, 0x80, 0x80]
    q = numerics.quant(np.float32([1000, -np.inf, np.nan, 0.53125]), 0.5, "e4m3fn")
    assert q.tolist() == [0x7E, 0xFE, 0x7F, 0x38]  # 0.53125*2 = 1.0625 -> 1.0
    assert numerics.quant(np.float32([1000]), 1.0, "e4m3fnuz").tolist() == [0x7E]  # 224


def test_fp8_decode_round_trips_every_code():
    for kind in ("e4m3fn", "e4m3fnuz"):
        codes = np.arange(256, dtype=np.uint8)
        values = numerics.fp8_decode(codes, kind)
        finite = ~np.isnan(values)
        back = numerics.fp8_encode(values[finite], kind)
        expected = codes[finite]
        if kind == "e4m3fn":  # -0 encodes as 0x80, which decodes as -0: fine
            pass
        assert (back == expected).all()


def test_against_ml_dtypes():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(100000).astype(np.float32) * 50,
                        rng.standard_normal(100000).astype(np.float32) * 1e-3])
    # bf16
    ours = numerics.bf16_bits(x)
    theirs = x.astype(ml_dtypes.bfloat16).view(np.uint16)
    assert (ours == theirs).all()
    # fp8 in range (ml_dtypes and sp agree on rounding; sp defines overflow)
    for kind, dtype, limit in (("e4m3fn", ml_dtypes.float8_e4m3fn, 448),
                               ("e4m3fnuz", ml_dtypes.float8_e4m3fnuz, 240)):
        inside = x[np.abs(x) <= limit]
        ours = numerics.fp8_encode(inside, kind)
        theirs = inside.astype(dtype).view(np.uint8)
        if kind == "e4m3fnuz":
            ours = np.where(ours == 0x80, 0, ours)  # no -0 in either
            theirs = np.where(theirs == 0x80, 0, theirs)
        assert (ours == theirs).all(), kind
        decoded = numerics.fp8_decode(np.arange(256, dtype=np.uint8), kind)
        reference = np.arange(256, dtype=np.uint8).view(dtype).astype(np.float32)
        same = (decoded == reference) | (np.isnan(decoded) & np.isnan(reference))
        assert same.all(), kind


def _tools_built():
    try:
        tools.find_tool("sp-run")
        return True
    except tools.ToolError:
        return False


needs_tools = pytest.mark.skipif(not _tools_built(), reason="sp-run not built")


@needs_tools
@pytest.mark.parametrize("dtype", ["bf16", "f16", "f32"])
def test_compiled_code_matches_numpy(tmp_path, dtype):
    """sp-run's JIT-compiled norm, fused norm and quant == this module."""
    rows, hidden = 8, 64
    rng = np.random.default_rng(1)
    x = numerics.round_to(rng.standard_normal((rows, hidden)).astype(np.float32) * 3, dtype)
    r = numerics.round_to(rng.standard_normal((rows, hidden)).astype(np.float32), dtype)
    w = numerics.round_to(rng.standard_normal(hidden).astype(np.float32), dtype)
    scale = np.float32(0.0123)
    t = f"tensor<{rows}x{hidden}x{dtype}>"
    wt = f"tensor<{hidden}x{dtype}>"
    module = tmp_path / "m.mlir"
    module.write_text(f"""
func.func @f(%x: {t}, %r: {t}, %w: {wt}, %s: tensor<f32>) -> ({t}, {t}, {t}, tensor<{rows}x{hidden}xf8E4M3FN>) {{
  %n = sp.rms_norm %x, %w epsilon = 1.0e-5 : {t}, {wt}
  %o, %z = sp.fused_add_rms_norm %x, %r, %w epsilon = 1.0e-5 : {t}, {wt}
  %q = sp.quant %n, %s : {t} -> tensor<{rows}x{hidden}xf8E4M3FN>
  return %n, %o, %z, %q : {t}, {t}, {t}, tensor<{rows}x{hidden}xf8E4M3FN>
}}""")
    descr = {"bf16": "<u2", "f16": "<f2", "f32": "<f4"}[dtype]

    def encode(a):
        if dtype == "bf16":
            return [int(b) for b in numerics.bf16_bits(a).ravel()]
        if dtype == "f16":
            return [float(v) for v in a.astype(np.float16).ravel()]
        return [float(v) for v in a.ravel()]

    inputs = tmp_path / "in"
    inputs.mkdir()
    npy.write(str(inputs / "arg0.npy"), descr, x.shape, encode(x))
    npy.write(str(inputs / "arg1.npy"), descr, r.shape, encode(r))
    npy.write(str(inputs / "arg2.npy"), descr, w.shape, encode(w))
    npy.write(str(inputs / "arg3.npy"), "<f4", (), [float(scale)])
    outputs = tmp_path / "out"
    result = tools.sp_run(module, inputs=str(inputs), outputs=str(outputs), check=True)
    assert len(result.outputs) == 4

    def load(k):
        return np.load(outputs / "rank0" / f"output{k}.npy")

    def as_f32(a):
        if dtype == "bf16":
            return numerics.bf16_to_f32(a)
        return a.astype(np.float32)

    n = numerics.rms_norm(x, w, 1e-5, dtype)
    o, z = numerics.fused_add_rms_norm(x, r, w, 1e-5, dtype)
    q = numerics.quant(n, scale, "e4m3fn")
    assert np.array_equal(as_f32(load(0)), n)
    assert np.array_equal(as_f32(load(1)), o)
    assert np.array_equal(as_f32(load(2)), z)
    assert np.array_equal(load(3), q)
