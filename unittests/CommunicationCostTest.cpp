//===- CommunicationCostTest.cpp - ring bytes and the collective census ---===//

#include "sp/Dialect/SP/Analysis/CommunicationCost.h"
#include "sp/Registration/Registration.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <limits>

using namespace mlir;
using namespace mlir::sp;

static constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
static constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

TEST(CommunicationCost, TensorBytes) {
  MLIRContext context;
  Builder b(&context);
  EXPECT_EQ(getTensorBytes(RankedTensorType::get({256, 128}, b.getBF16Type())),
            256 * 128 * 2);
  // fp8 is one byte, i1 rounds up to one.
  EXPECT_EQ(getTensorBytes(RankedTensorType::get(
                {4, 8}, b.getType<Float8E4M3FNType>())),
            32);
  EXPECT_EQ(getTensorBytes(RankedTensorType::get({3}, b.getI1Type())), 3);
  EXPECT_EQ(getTensorBytes(RankedTensorType::get({}, b.getF32Type())), 4);
  EXPECT_EQ(getTensorBytes(
                RankedTensorType::get({ShapedType::kDynamic, 4}, b.getF32Type())),
            std::nullopt);
  EXPECT_EQ(getTensorBytes(UnrankedTensorType::get(b.getF32Type())),
            std::nullopt);
  // A size that overflows int64 is unknown, not wrapped.
  EXPECT_EQ(getTensorBytes(RankedTensorType::get({int64_t(1) << 40,
                                                  int64_t(1) << 40},
                                                 b.getF32Type())),
            std::nullopt);
}

TEST(CommunicationCost, RingShareIsTheRoundedDownRingFraction) {
  EXPECT_EQ(getRingShare(1000, 4), 750);
  EXPECT_EQ(getRingShare(1001, 4), 750); // 1001 * 3 / 4 = 750.75
  EXPECT_EQ(getRingShare(7, 2), 3);
  EXPECT_EQ(getRingShare(-1001, 4), -750); // toward zero, like the formula
  EXPECT_EQ(getRingShare(1000, 1), 0);     // one rank sends nothing
  EXPECT_EQ(getRingShare(1000, 0), 0);
  // bytes * (n - 1) would overflow; the share does not.
  EXPECT_EQ(getRingShare(kMax, 2), kMax / 2);
  EXPECT_EQ(getRingShare(kMax, kMax), kMax - 1);
  EXPECT_EQ(getRingShare(kMin, 2), -(kMax / 2));
}

TEST(CommunicationCost, SaturatingAdd) {
  EXPECT_EQ(saturatingAdd(2, 3), 5);
  EXPECT_EQ(saturatingAdd(kMax, 1), kMax);
  EXPECT_EQ(saturatingAdd(kMin, -1), kMin);
  EXPECT_EQ(saturatingAdd(kMax, kMin), -1);
}

TEST(CommunicationCost, CensusCountsAndBytes) {
  MLIRContext context;
  DialectRegistry registry;
  registerSPDialects(registry);
  context.appendDialectRegistry(registry);
  context.loadAllAvailableDialects();
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(R"mlir(
    sp.group @tp size(4)
    sp.group @one size(1)
    func.func @f(%x: tensor<64x8xbf16>, %d: tensor<?x8xbf16>, %q: tensor<16x8xf8E4M3FN>)
        -> (tensor<64x8xbf16>, tensor<16x8xbf16>, tensor<64x8xf8E4M3FN>,
            tensor<16x8xbf16>, tensor<?x8xbf16>, tensor<64x8xbf16>) {
      %ar = sp.all_reduce %x over @tp : tensor<64x8xbf16>
      %rs = sp.reduce_scatter %x over @tp : tensor<64x8xbf16> -> tensor<16x8xbf16>
      %ag = sp.all_gather %q over @tp : tensor<16x8xf8E4M3FN> -> tensor<64x8xf8E4M3FN>
      %sl = sp.all_slice %x over @tp : tensor<64x8xbf16> -> tensor<16x8xbf16>
      %dy = sp.all_reduce %d over @tp : tensor<?x8xbf16>
      %on = sp.all_reduce %x over @one : tensor<64x8xbf16>
      return %ar, %rs, %ag, %sl, %dy, %on
          : tensor<64x8xbf16>, tensor<16x8xbf16>, tensor<64x8xf8E4M3FN>,
            tensor<16x8xbf16>, tensor<?x8xbf16>, tensor<64x8xbf16>
    })mlir",
                                                            &context);
  ASSERT_TRUE(module);
  CollectiveCensus census = CollectiveCensus::of(*module);
  EXPECT_EQ(census.allReduce, 3);
  EXPECT_EQ(census.reduceScatter, 1);
  EXPECT_EQ(census.allGather, 1);
  EXPECT_EQ(census.allSlice, 1);
  EXPECT_EQ(census.unknownSize, 1); // the dynamic all_reduce
  // all_reduce 2 * 3/4 * 1024 B, reduce_scatter 3/4 * 1024 B, all_gather of
  // fp8 3/4 * 512 B, all_slice and the single-rank all_reduce nothing.
  EXPECT_EQ(census.bytesPerRank, 1536 + 768 + 384);
}

TEST(CommunicationCost, GPUGenerationSpelling) {
  EXPECT_EQ(stringifyGPUGeneration(GPUGeneration::sm90), "sm90");
  EXPECT_EQ(stringifyGPUGeneration(GPUGeneration::sm100), "sm100");
  EXPECT_EQ(stringifyGPUGeneration(GPUGeneration::none), "");
}
