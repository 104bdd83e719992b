"""numpy references of sp's numerics, bit-exact with
include/sp/Runtime/Numerics.h (and so with the compiled CPU code).

Activations are float32 arrays holding values of the activation type
("f32", "f16" or "bf16"); `round_to(x, dtype)` rounds float32 values to that
type (nearest even). FP8 results are uint8 codes.
"""

from __future__ import annotations

import numpy as np

F32 = np.float32


def _bits(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=F32).view(np.uint32)


def _floats(bits: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(bits, dtype=np.uint32).view(F32)


def bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bf16 bits (uint16), round to nearest even; NaN stays NaN."""
    u = _bits(x).astype(np.uint64)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF
    return np.where(nan, (u >> 16) | 0x40, rounded).astype(np.uint16)


def bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    return _floats(np.asarray(bits, dtype=np.uint32) << 16)


def round_to(x: np.ndarray, dtype: str) -> np.ndarray:
    """Rounds float32 values to the activation type and back to float32."""
    x = np.asarray(x, dtype=F32)
    if dtype == "f32":
        return x
    if dtype == "f16":
        return x.astype(np.float16).astype(F32)  # numpy rounds to nearest even
    if dtype == "bf16":
        return bf16_to_f32(bf16_bits(x))
    raise ValueError(f"unknown activation type {dtype!r}")


def rms_norm(x: np.ndarray, weight: np.ndarray, epsilon: float, dtype: str) -> np.ndarray:
    """sp.rms_norm over the last axis: ss = sum(x^2) in f32 in index order,
    inv = 1 / sqrt(ss / H + eps), out = T(T(x * inv) * w)."""
    x = np.asarray(x, dtype=F32)
    weight = np.asarray(weight, dtype=F32)
    hidden = x.shape[-1]
    ss = np.zeros(x.shape[:-1], dtype=F32)
    for i in range(hidden):  # sequential: numpy's sum would be pairwise
        v = x[..., i]
        ss = (ss + v * v).astype(F32)
    inverse = F32(1.0) / np.sqrt(ss / F32(hidden) + F32(epsilon))
    normed = round_to(x * inverse[..., None], dtype)
    return round_to(normed * weight, dtype)


def fused_add_rms_norm(x: np.ndarray, residual: np.ndarray, weight: np.ndarray,
                       epsilon: float, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """z = T(x + r); returns (rms_norm(z), z)."""
    z = round_to(np.asarray(x, dtype=F32) + np.asarray(residual, dtype=F32), dtype)
    return rms_norm(z, weight, epsilon, dtype), z


_FP8 = {"e4m3fn": (7, 0x7E, 448.0), "e4m3fnuz": (8, 0x7F, 224.0)}


def fp8_encode(x: np.ndarray, kind: str = "e4m3fn") -> np.ndarray:
    """float32 -> fp8 codes, round to nearest even; NaN, infinity and
    overflow -> NaN (e4m3fn: 0x7F with the sign, e4m3fnuz: 0x80); e4m3fnuz
    has no -0."""
    bias, max_code, _ = _FP8[kind]
    fnuz = kind == "e4m3fnuz"
    u = _bits(x).astype(np.int64)
    sign = (u >> 24) & 0x80
    magnitude = u & 0x7FFFFFFF
    nan_code = np.full_like(u, 0x80) if fnuz else (sign | 0x7F)
    rounded = magnitude + 0x7FFFF + ((magnitude >> 20) & 1)
    code = (rounded >> 20) - ((127 - bias) << 3)
    normal = magnitude >= ((127 + 1 - bias) << 23)
    units = np.rint(_floats(magnitude.astype(np.uint32)) * F32(1024.0 if fnuz else 512.0))
    units = np.where(normal, 0, units).astype(np.int64)  # np.rint: ties to even
    mag = np.where(normal, code, units)
    result = sign | mag
    if fnuz:
        result = np.where(mag == 0, 0, result)
    bad = (magnitude >= 0x7F800000) | (normal & (code > max_code))
    return np.where(bad, nan_code, result).astype(np.uint8)


def fp8_decode(codes: np.ndarray, kind: str = "e4m3fn") -> np.ndarray:
    bias, _, _ = _FP8[kind]
    c = np.asarray(codes, dtype=np.uint32)
    sign = np.where(c & 0x80, F32(-1.0), F32(1.0))
    exponent = (c >> 3) & 0xF
    mantissa = (c & 7).astype(F32)
    sub = mantissa * F32(2.0 ** (1 - bias - 3))
    normal = (F32(1.0) + mantissa / F32(8.0)) * np.exp2((exponent.astype(np.int32) - bias)).astype(F32)
    value = sign * np.where(exponent == 0, sub, normal)
    nan = (c == 0x80) if kind == "e4m3fnuz" else ((c & 0x7F) == 0x7F)
    return np.where(nan, F32(np.nan), value).astype(F32)


def quant(x: np.ndarray, scale: float, kind: str = "e4m3fn") -> np.ndarray:
    """sp.quant: fp8(clamp(x * (1.0f / scale), -M, M)), M = 448 (e4m3fn) or
    224 (e4m3fnuz, as vLLM); a NaN gives the canonical NaN 0x7F / 0x80."""
    _, _, m = _FP8[kind]
    inverse = F32(1.0) / F32(scale)
    v = np.asarray(x, dtype=F32) * inverse
    clamped = np.clip(v, F32(-m), F32(m))
    codes = fp8_encode(clamped, kind)
    return np.where(np.isnan(v), 0x80 if kind == "e4m3fnuz" else 0x7F, codes).astype(np.uint8)
