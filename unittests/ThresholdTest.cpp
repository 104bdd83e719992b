//===- ThresholdTest.cpp - vLLM's sequence-parallel token thresholds ------===//

#include "sp/Dialect/SP/Analysis/CommunicationCost.h"

#include <gtest/gtest.h>

#include <limits>

using mlir::sp::GPUGeneration;
using mlir::sp::vllmMinTokens;

// floor(MB * 2^20 * tp / (hidden * elementBytes)), sm90: 8 MB and only for
// hidden >= 8192.
TEST(VLLMThreshold, SM90BF16) {
  EXPECT_EQ(vllmMinTokens(GPUGeneration::sm90, 8192, 2, 2), 1024);
  EXPECT_EQ(vllmMinTokens(GPUGeneration::sm90, 8192, 8, 2), 4096);
  EXPECT_EQ(vllmMinTokens(GPUGeneration::sm90, 16384, 1, 2), 256);
}

TEST(VLLMThreshold, SM90FP32) { EXPECT_EQ(vllmMinTokens(GPUGeneration::sm90, 8192, 2, 4), 512); }

TEST(VLLMThreshold, SM90SmallHiddenHasNoThreshold) {
  EXPECT_EQ(vllmMinTokens(GPUGeneration::sm90, 4096, 2, 2), std::nullopt);
  EXPECT_EQ(vllmMinTokens(GPUGeneration::sm90, 8191, 8, 2), std::nullopt);
}

TEST(VLLMThreshold, SM100) {
  // 32 MB, no hidden-size minimum.
  EXPECT_EQ(vllmMinTokens(GPUGeneration::sm100, 8192, 2, 2), 4096);
  EXPECT_EQ(vllmMinTokens(GPUGeneration::sm100, 4096, 4, 2), 16384);
}

TEST(VLLMThreshold, FloorsTheQuotient) {
  // 8 MiB * 3 / (12288 * 2) = 1024 exactly; 8 MiB * 3 / (10000 * 2) = 1258.29
  EXPECT_EQ(vllmMinTokens(GPUGeneration::sm90, 12288, 3, 2), 1024);
  EXPECT_EQ(vllmMinTokens(GPUGeneration::sm90, 10000, 3, 2), 1258);
}

TEST(VLLMThreshold, NoDeviceOrBadInputsHaveNoThreshold) {
  EXPECT_EQ(vllmMinTokens(GPUGeneration::none, 8192, 2, 2), std::nullopt);
  EXPECT_EQ(vllmMinTokens(GPUGeneration::sm90, 0, 2, 2), std::nullopt);
  EXPECT_EQ(vllmMinTokens(GPUGeneration::sm90, 8192, 0, 2), std::nullopt);
  EXPECT_EQ(vllmMinTokens(GPUGeneration::sm90, 8192, 2, 0), std::nullopt);
}

TEST(VLLMThreshold, AbsurdSizesDoNotWrapAround) {
  // 32 MiB * 2^44 ranks is 2^69: the product overflows int64 (a fuzzer
  // finding was a group of 24444444444444444 ranks), the threshold does not.
  EXPECT_EQ(vllmMinTokens(GPUGeneration::sm100, 4096, int64_t(1) << 44, 2),
            int64_t(1) << 56);
  // Too large for int64: saturates instead of wrapping.
  EXPECT_EQ(vllmMinTokens(GPUGeneration::sm100, 1, int64_t(1) << 62, 1),
            std::numeric_limits<int64_t>::max());
}
