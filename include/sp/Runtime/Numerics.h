//===- Numerics.h - the C++ reference of sp's numerics ----------*- C++ -*-===//
//
// Header-only, dependency-free definitions of every number sp computes on
// the CPU: float <-> bf16 / f16 / fp8 conversions, RMSNorm, fused add +
// RMSNorm, static FP8 quant, and rank-order reductions. The compiled code
// (sp-decompose-to-linalg + sp-expand-fp8 + the CPU runtime) must match these
// bit for bit; the unit tests check that exhaustively for bf16 and f16.
//
// Rounding is round-to-nearest-even everywhere. NaN policy:
//   * bf16, f16: a NaN stays a NaN. The conversions here keep sign and top
//     payload bits, but the payload and sign of a NaN that a norm computes
//     are not specified (CPUs propagate payloads, the bf16 expansion and
//     GPUs produce canonical NaNs); tests compare NaN-ness there;
//   * fp8 e4m3fn: NaN -> 0x7F with the input's sign (0x7F / 0xFF); a finite
//     value that rounds beyond 448, or an infinity, also becomes that NaN
//     (the format has no infinity);
//   * fp8 e4m3fnuz: every NaN, overflow and infinity -> 0x80, the format's
//     only NaN; -0 -> +0 (there is no negative zero);
//   * quant clamps to [-448, 448] (fnuz: [-224, 224]) first, so an infinite
//     input saturates; a NaN (x * (1/scale) is NaN) yields the canonical
//     NaN, 0x7F (fnuz: 0x80), whatever its sign.
//
//===----------------------------------------------------------------------===//

#ifndef SP_RUNTIME_NUMERICS_H
#define SP_RUNTIME_NUMERICS_H

#include <cmath>
#include <cstdint>
#include <cstring>

namespace mlir::sp::numerics {

inline uint32_t bitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

inline float floatOf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

/// Round to the nearest integer, ties to even, for 0 <= x < 2^23.
inline uint32_t roundHalfEven(float x) {
  float floor = std::floor(x);
  float diff = x - floor;
  uint32_t r = static_cast<uint32_t>(floor);
  if (diff > 0.5f || (diff == 0.5f && (r & 1)))
    ++r;
  return r;
}

//===----------------------------------------------------------------------===//
// bf16 and f16
//===----------------------------------------------------------------------===//

inline float bf16ToFloat(uint16_t h) { return floatOf(uint32_t(h) << 16); }

inline uint16_t floatToBF16(float f) {
  uint32_t u = bitsOf(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) // NaN: keep sign, make it quiet
    return static_cast<uint16_t>((u >> 16) | 0x0040u);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

inline float f16ToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1Fu;
  uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0x1F) // inf / NaN
    return floatOf(sign | 0x7F800000u | (mantissa << 13));
  if (exponent == 0) { // zero / subnormal: mantissa * 2^-24, exact
    float value = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return sign ? -value : value;
  }
  return floatOf(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

inline uint16_t floatToF16(float f) {
  uint32_t u = bitsOf(f);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint32_t abs = u & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) // NaN: quiet, top payload bits kept
    return sign | 0x7E00u | static_cast<uint16_t>((abs >> 13) & 0x3FFu);
  if (abs >= 0x477FF000u) // >= 65520 rounds to infinity
    return sign | 0x7C00u;
  if (abs >= 0x38800000u) { // normal: >= 2^-14
    uint32_t r = abs + 0xFFFu + ((abs >> 13) & 1u);
    return sign | static_cast<uint16_t>((r >> 13) - (112u << 10));
  }
  // Subnormal or zero: count units of 2^-24 (the scaling is exact).
  return sign | static_cast<uint16_t>(roundHalfEven(floatOf(abs) * 16777216.0f));
}

//===----------------------------------------------------------------------===//
// fp8
//===----------------------------------------------------------------------===//

enum class FP8Kind { E4M3FN, E4M3FNUZ };

/// Largest finite value of the format, and the quant clamp (vLLM uses 224
/// for fnuz, below the format's 240).
inline float fp8Max(FP8Kind kind) { return kind == FP8Kind::E4M3FN ? 448.0f : 240.0f; }
inline float fp8QuantClamp(FP8Kind kind) {
  return kind == FP8Kind::E4M3FN ? 448.0f : 224.0f;
}

inline float fp8ToFloat(uint8_t v, FP8Kind kind) {
  bool fnuz = kind == FP8Kind::E4M3FNUZ;
  if (fnuz ? v == 0x80 : (v & 0x7F) == 0x7F)
    return floatOf(0x7FC00000u | (fnuz ? 0u : uint32_t(v & 0x80) << 24));
  uint32_t sign = uint32_t(v & 0x80) << 24;
  uint32_t exponent = (v >> 3) & 0xFu;
  uint32_t mantissa = v & 0x7u;
  int bias = fnuz ? 8 : 7;
  if (exponent == 0) { // mantissa * 2^(1 - bias - 3), exact
    float value = static_cast<float>(mantissa) * (fnuz ? 0.0009765625f : 0.001953125f);
    return sign ? -value : value;
  }
  return floatOf(sign | ((exponent + 127u - bias) << 23) | (mantissa << 20));
}

inline uint8_t floatToFP8(float f, FP8Kind kind) {
  bool fnuz = kind == FP8Kind::E4M3FNUZ;
  uint32_t u = bitsOf(f);
  uint8_t sign = static_cast<uint8_t>((u >> 24) & 0x80u);
  uint32_t abs = u & 0x7FFFFFFFu;
  uint8_t nan = fnuz ? 0x80 : static_cast<uint8_t>(sign | 0x7F);
  if (abs >= 0x7F800000u) // NaN or infinity: no infinity in these formats
    return nan;
  uint32_t bias = fnuz ? 8 : 7;
  uint32_t code;
  if (abs >= ((127u + 1u - bias) << 23)) { // normal range of the fp8 format
    uint32_t r = abs + 0x7FFFFu + ((abs >> 20) & 1u);
    code = (r >> 20) - ((127u - bias) << 3);
    if (code > (fnuz ? 0x7Fu : 0x7Eu))
      return nan; // rounds beyond the largest finite value
  } else { // subnormal: units of 2^(1 - bias - 3)
    code = roundHalfEven(floatOf(abs) * (fnuz ? 1024.0f : 512.0f));
  }
  if (fnuz && code == 0)
    return 0; // no negative zero
  return static_cast<uint8_t>(sign | code);
}

/// sp.quant: q = fp8(clamp(x * (1.0f / scale), -M, M)).
inline uint8_t quantFP8(float x, float scale, FP8Kind kind) {
  float inverse = 1.0f / scale;
  float v = x * inverse;
  if (std::isnan(v))
    return kind == FP8Kind::E4M3FN ? 0x7F : 0x80;
  float m = fp8QuantClamp(kind);
  v = v < -m ? -m : (v > m ? m : v);
  return floatToFP8(v, kind);
}

//===----------------------------------------------------------------------===//
// Activation types and the row-wise ops
//===----------------------------------------------------------------------===//

enum class ElementKind { F32, F16, BF16 };

/// An activation element stored as raw bits (float bits for f32).
inline float toFloat(uint32_t bits, ElementKind kind) {
  switch (kind) {
  case ElementKind::F32:
    return floatOf(bits);
  case ElementKind::F16:
    return f16ToFloat(static_cast<uint16_t>(bits));
  case ElementKind::BF16:
    return bf16ToFloat(static_cast<uint16_t>(bits));
  }
  return 0.0f;
}

inline uint32_t fromFloat(float f, ElementKind kind) {
  switch (kind) {
  case ElementKind::F32:
    return bitsOf(f);
  case ElementKind::F16:
    return floatToF16(f);
  case ElementKind::BF16:
    return floatToBF16(f);
  }
  return 0;
}

/// Rounds f to the activation type and back.
inline float round(float f, ElementKind kind) {
  return toFloat(fromFloat(f, kind), kind);
}

/// RMSNorm of one row of `hidden` elements (raw bits of `kind`):
///   ss = sum(float(x)^2) in f32, in order; inv = 1 / sqrt(ss / H + eps);
///   out = T(T(float(x) * inv) * w).
inline void rmsNormRow(const uint32_t *x, const uint32_t *weight, int64_t hidden,
                       float epsilon, ElementKind kind, uint32_t *out) {
  float ss = 0.0f;
  for (int64_t i = 0; i < hidden; ++i) {
    float v = toFloat(x[i], kind);
    float square = v * v;
    ss = ss + square;
  }
  float inverse = 1.0f / std::sqrt(ss / static_cast<float>(hidden) + epsilon);
  for (int64_t i = 0; i < hidden; ++i) {
    float normed = round(toFloat(x[i], kind) * inverse, kind);
    out[i] = fromFloat(normed * toFloat(weight[i], kind), kind);
  }
}

/// Fused add + RMSNorm of one row: z = T(x + r); residualOut = z; out =
/// rmsNormRow(z).
inline void fusedAddRMSNormRow(const uint32_t *x, const uint32_t *residual,
                               const uint32_t *weight, int64_t hidden,
                               float epsilon, ElementKind kind, uint32_t *out,
                               uint32_t *residualOut) {
  for (int64_t i = 0; i < hidden; ++i)
    residualOut[i] =
        fromFloat(toFloat(x[i], kind) + toFloat(residual[i], kind), kind);
  rmsNormRow(residualOut, weight, hidden, epsilon, kind, out);
}

//===----------------------------------------------------------------------===//
// Reductions across ranks
//===----------------------------------------------------------------------===//

enum class Reduction { Sum = 0, Prod = 1, Min = 2, Max = 3, Avg = 4 };

/// Combines contributions[0..ranks) of one element in rank order, in f32
/// (double for f64 data), and returns the combined value before the final
/// rounding to the element type. min/max propagate NaN.
template <typename Acc>
inline Acc combine(const Acc *contributions, int64_t ranks, Reduction op) {
  Acc acc = contributions[0];
  for (int64_t r = 1; r < ranks; ++r) {
    Acc v = contributions[r];
    switch (op) {
    case Reduction::Sum:
    case Reduction::Avg:
      acc = acc + v;
      break;
    case Reduction::Prod:
      acc = acc * v;
      break;
    case Reduction::Min:
      acc = (std::isnan(acc) || std::isnan(v)) ? acc + v : (v < acc ? v : acc);
      break;
    case Reduction::Max:
      acc = (std::isnan(acc) || std::isnan(v)) ? acc + v : (v > acc ? v : acc);
      break;
    }
  }
  if (op == Reduction::Avg)
    acc = acc / static_cast<Acc>(ranks);
  return acc;
}

} // namespace mlir::sp::numerics

#endif // SP_RUNTIME_NUMERICS_H
