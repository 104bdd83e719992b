//===- NumericsTest.cpp - the C++ reference against llvm::APFloat ---------===//
//
// include/sp/Runtime/Numerics.h is the specification the compiled code is
// checked against, so it is checked itself against an independent
// implementation of IEEE-style rounding: llvm::APFloat.
//
//===----------------------------------------------------------------------===//

#include "sp/Runtime/Numerics.h"

#include "llvm/ADT/APFloat.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

using namespace mlir::sp::numerics;
using llvm::APFloat;

namespace {
APFloat::opStatus convertTo(APFloat &value, const llvm::fltSemantics &sem) {
  bool losesInfo = false;
  return value.convert(sem, APFloat::rmNearestTiesToEven, &losesInfo);
}

uint64_t apBits(float f, const llvm::fltSemantics &sem) {
  APFloat value(f);
  convertTo(value, sem);
  return value.bitcastToAPInt().getZExtValue();
}

/// f32 bit patterns that exercise rounding: a strided sweep of all 2^32
/// patterns, and for each one the neighbours that make ties and
/// near-ties at every target precision.
std::vector<uint32_t> samplePatterns() {
  std::vector<uint32_t> patterns;
  for (uint64_t u = 0; u <= 0xFFFFFFFFull; u += 4099) {
    uint32_t base = static_cast<uint32_t>(u);
    patterns.push_back(base);
    for (int shift : {13, 16, 20}) { // f16, bf16, fp8 mantissa cut points
      uint32_t half = 1u << (shift - 1);
      uint32_t cut = base & ~((1u << shift) - 1);
      patterns.push_back(cut | half);
      patterns.push_back((cut | half) - 1);
      patterns.push_back((cut | half) + 1);
      patterns.push_back(cut | half | (1u << shift)); // odd lsb tie
    }
  }
  return patterns;
}
} // namespace

TEST(Numerics, BF16MatchesAPFloat) {
  for (uint32_t u : samplePatterns()) {
    float f = floatOf(u);
    uint16_t ours = floatToBF16(f);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(bf16ToFloat(ours)));
      EXPECT_EQ(ours >> 15, u >> 31);
      continue;
    }
    ASSERT_EQ(ours, apBits(f, APFloat::BFloat())) << std::hex << u;
  }
}

TEST(Numerics, F16MatchesAPFloat) {
  for (uint32_t u : samplePatterns()) {
    float f = floatOf(u);
    uint16_t ours = floatToF16(f);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(f16ToFloat(ours)));
      continue;
    }
    ASSERT_EQ(ours, apBits(f, APFloat::IEEEhalf())) << std::hex << u;
  }
}

TEST(Numerics, F16ToFloatIsExactForAllCodes) {
  for (uint32_t h = 0; h < 65536; ++h) {
    APFloat value(APFloat::IEEEhalf(), llvm::APInt(16, h));
    convertTo(value, APFloat::IEEEsingle());
    float expected = value.convertToFloat();
    float ours = f16ToFloat(static_cast<uint16_t>(h));
    if (std::isnan(expected)) {
      EXPECT_TRUE(std::isnan(ours));
      continue;
    }
    ASSERT_EQ(bitsOf(ours), bitsOf(expected)) << std::hex << h;
    // And back: every f16 value round-trips.
    ASSERT_EQ(floatToF16(ours), h);
  }
}

static void checkFP8(FP8Kind kind, const llvm::fltSemantics &sem) {
  // Decoding: all 256 codes.
  for (uint32_t v = 0; v < 256; ++v) {
    APFloat value(sem, llvm::APInt(8, v));
    convertTo(value, APFloat::IEEEsingle());
    float ours = fp8ToFloat(static_cast<uint8_t>(v), kind);
    if (value.isNaN()) {
      EXPECT_TRUE(std::isnan(ours)) << v;
      continue;
    }
    ASSERT_EQ(bitsOf(ours), bitsOf(value.convertToFloat())) << v;
    uint8_t back = floatToFP8(ours, kind);
    ASSERT_EQ(back, v); // every finite code round-trips (-0 too in e4m3fn)
  }
  // Encoding: the sampled f32 patterns (ties, near-ties, subnormals).
  for (uint32_t u : samplePatterns()) {
    float f = floatOf(u);
    uint8_t ours = floatToFP8(f, kind);
    APFloat value(f);
    convertTo(value, sem);
    if (value.isNaN() || std::isnan(f) || std::isinf(f)) {
      // No infinity: overflow and infinities are NaN, as in APFloat.
      EXPECT_TRUE(std::isnan(fp8ToFloat(ours, kind))) << std::hex << u;
      continue;
    }
    ASSERT_EQ(ours, value.bitcastToAPInt().getZExtValue()) << std::hex << u;
  }
}

TEST(Numerics, FP8E4M3FNMatchesAPFloat) {
  checkFP8(FP8Kind::E4M3FN, APFloat::Float8E4M3FN());
}

TEST(Numerics, FP8E4M3FNUZMatchesAPFloat) {
  checkFP8(FP8Kind::E4M3FNUZ, APFloat::Float8E4M3FNUZ());
}

TEST(Numerics, FP8EdgeCases) {
  // Largest finite values, and the ties just above them.
  EXPECT_EQ(floatToFP8(448.0f, FP8Kind::E4M3FN), 0x7E);
  EXPECT_EQ(floatToFP8(464.0f, FP8Kind::E4M3FN), 0x7E); // tie to even: 448
  EXPECT_EQ(floatToFP8(464.5f, FP8Kind::E4M3FN), 0x7F); // overflow: NaN
  EXPECT_EQ(floatToFP8(-464.5f, FP8Kind::E4M3FN), 0xFF);
  EXPECT_EQ(floatToFP8(240.0f, FP8Kind::E4M3FNUZ), 0x7F);
  // 240 has an odd mantissa (111), so the tie at 248 rounds up, past the
  // largest value: NaN.
  EXPECT_EQ(floatToFP8(247.0f, FP8Kind::E4M3FNUZ), 0x7F);
  EXPECT_EQ(floatToFP8(248.0f, FP8Kind::E4M3FNUZ), 0x80);
  // Subnormals and ties between them: 2^-9 is the smallest e4m3fn step.
  EXPECT_EQ(floatToFP8(0x1.0p-9f, FP8Kind::E4M3FN), 0x01);
  EXPECT_EQ(floatToFP8(0x1.0p-10f, FP8Kind::E4M3FN), 0x00);    // tie to even 0
  EXPECT_EQ(floatToFP8(0x1.8p-9f, FP8Kind::E4M3FN), 0x02);     // 1.5 -> 2
  EXPECT_EQ(floatToFP8(0x1.4p-9f, FP8Kind::E4M3FN), 0x01);     // 1.25 -> 1
  EXPECT_EQ(floatToFP8(-0.0f, FP8Kind::E4M3FN), 0x80);         // -0 kept
  EXPECT_EQ(floatToFP8(-0.0f, FP8Kind::E4M3FNUZ), 0x00);       // no -0
  EXPECT_EQ(floatToFP8(-0x1.0p-12f, FP8Kind::E4M3FNUZ), 0x00); // rounds to -0
}

TEST(Numerics, QuantSaturatesAndHasOneNaN) {
  EXPECT_EQ(quantFP8(1000.0f, 1.0f, FP8Kind::E4M3FN), 0x7E);  // clamp 448
  EXPECT_EQ(quantFP8(-1000.0f, 1.0f, FP8Kind::E4M3FN), 0xFE); // -448
  EXPECT_EQ(quantFP8(INFINITY, 1.0f, FP8Kind::E4M3FN), 0x7E);
  EXPECT_EQ(quantFP8(-INFINITY, 1.0f, FP8Kind::E4M3FN), 0xFE);
  EXPECT_EQ(quantFP8(NAN, 1.0f, FP8Kind::E4M3FN), 0x7F);
  EXPECT_EQ(quantFP8(-NAN, 1.0f, FP8Kind::E4M3FN), 0x7F);
  // fnuz clamps to 224 = 1.75 * 2^7 (vLLM), code 0x7E, below the format's
  // 240 (0x7F).
  EXPECT_EQ(quantFP8(1000.0f, 1.0f, FP8Kind::E4M3FNUZ), 0x7E);
  EXPECT_EQ(quantFP8(NAN, 1.0f, FP8Kind::E4M3FNUZ), 0x80);
  // Reciprocal scale: x * (1/3), not x / 3.
  float x = 100.0f, scale = 3.0f;
  EXPECT_EQ(quantFP8(x, scale, FP8Kind::E4M3FN),
            floatToFP8(x * (1.0f / scale), FP8Kind::E4M3FN));
}

TEST(Numerics, RMSNormKnownValues) {
  // bf16 [1, 2, 3, 4], w = 1, eps = 1e-6 (the example of issue #4).
  uint32_t x[4], w[4], out[4];
  for (int i = 0; i < 4; ++i) {
    x[i] = floatToBF16(static_cast<float>(i + 1));
    w[i] = floatToBF16(1.0f);
  }
  rmsNormRow(x, w, 4, 1e-6f, ElementKind::BF16, out);
  const float expected[4] = {0.365234375f, 0.73046875f, 1.09375f, 1.4609375f};
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(bf16ToFloat(static_cast<uint16_t>(out[i])), expected[i]);
}

TEST(Numerics, FusedAddNormsTheRoundedSum) {
  // x + r is rounded to bf16 before the norm and returned as the residual.
  uint32_t x[2] = {floatToBF16(1.0f), floatToBF16(1.0f)};
  uint32_t r[2] = {floatToBF16(0x1.0p-9f), floatToBF16(0.0f)};
  uint32_t w[2] = {floatToBF16(1.0f), floatToBF16(1.0f)};
  uint32_t out[2], residual[2];
  fusedAddRMSNormRow(x, r, w, 2, 1e-6f, ElementKind::BF16, out, residual);
  EXPECT_EQ(residual[0], floatToBF16(1.0f)); // 1 + 2^-9 rounds to 1 in bf16
  EXPECT_EQ(out[0], out[1]);
}

TEST(Numerics, RankOrderReductions) {
  float values[3] = {1.0f, 0x1.0p-24f, 0x1.0p-24f};
  // ((1 + 2^-24) + 2^-24) in f32 is 1: the order is part of the contract.
  EXPECT_EQ(combine(values, 3, Reduction::Sum), 1.0f);
  EXPECT_EQ(combine(values, 3, Reduction::Max), 1.0f);
  EXPECT_EQ(combine(values, 3, Reduction::Min), 0x1.0p-24f);
  EXPECT_EQ(combine(values, 3, Reduction::Avg), 1.0f / 3.0f);
  float withNaN[2] = {1.0f, NAN};
  EXPECT_TRUE(std::isnan(combine(withNaN, 2, Reduction::Max)));
  EXPECT_TRUE(std::isnan(combine(withNaN, 2, Reduction::Min)));
}
