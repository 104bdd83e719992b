//===- PlannerTest.cpp - what sp-sequence-parallelism decides to change ---===//

#include "sp/Dialect/SP/Analysis/Replication.h"
#include "sp/Dialect/SP/IR/SPOps.h"
#include "sp/Dialect/SP/Transforms/SequenceParallelism.h"
#include "sp/Registration/Registration.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/Verifier.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::sp;

namespace {
class PlannerTest : public ::testing::Test {
protected:
  PlannerTest() {
    DialectRegistry registry;
    registerSPDialects(registry);
    registry.insert<arith::ArithDialect, linalg::LinalgDialect,
                    scf::SCFDialect, tensor::TensorDialect>();
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }

  SequenceParallelismPlan plan(StringRef source,
                               SequenceParallelismPlanOptions options = {},
                               bool assumeReplicated = false) {
    module = parseSourceString<ModuleOp>(source, &context);
    EXPECT_TRUE(module);
    ReplicationAnalysis replication(assumeReplicated);
    return planSequenceParallelism(*module, replication, options);
  }

  /// The ops of `name` in IR order.
  SmallVector<Operation *> ops(StringRef name) {
    SmallVector<Operation *> found;
    module->walk([&](Operation *op) {
      if (op->getName().getStringRef() == name)
        found.push_back(op);
    });
    return found;
  }

  MLIRContext context;
  OwningOpRef<ModuleOp> module;
};

// Two layers: norm + quant after the first all_reduce, fused add + norm
// after the second, the residual chained between them.
constexpr StringLiteral kTwoSites = R"mlir(
  sp.group @tp size(2)
  func.func @f(%x: tensor<64x8xbf16>, %y: tensor<64x8xbf16>,
               %w: tensor<8xbf16> {sp.replicated}, %s: tensor<f32> {sp.replicated})
      -> (tensor<64x8xf8E4M3FN>, tensor<64x8xbf16>) {
    %a = sp.all_reduce %x over @tp : tensor<64x8xbf16>
    %n = sp.rms_norm %a, %w epsilon = 1.0e-6 : tensor<64x8xbf16>, tensor<8xbf16>
    %q = sp.quant %n, %s : tensor<64x8xbf16> -> tensor<64x8xf8E4M3FN>
    %b = sp.all_reduce %y over @tp : tensor<64x8xbf16>
    %o, %r = sp.fused_add_rms_norm %b, %a, %w epsilon = 1.0e-6 : tensor<64x8xbf16>, tensor<8xbf16>
    return %q, %o : tensor<64x8xf8E4M3FN>, tensor<64x8xbf16>
  })mlir";
} // namespace

TEST_F(PlannerTest, ChoosesLegalSitesAndTheirLocalOps) {
  SequenceParallelismPlan result = plan(kTwoSites);
  auto reduces = ops("sp.all_reduce");
  ASSERT_EQ(reduces.size(), 2u);
  EXPECT_TRUE(result.sites.contains(reduces[0]));
  EXPECT_TRUE(result.sites.contains(reduces[1]));
  EXPECT_TRUE(result.leftAlone.empty());
  // The norm, its quant (fp8 on the wire) and the fused norm run locally.
  EXPECT_TRUE(result.localOps.contains(ops("sp.rms_norm")[0]));
  EXPECT_TRUE(result.localOps.contains(ops("sp.quant")[0]));
  EXPECT_TRUE(result.localOps.contains(ops("sp.fused_add_rms_norm")[0]));
  EXPECT_EQ(result.localOps.size(), 3u);
}

TEST_F(PlannerTest, ThresholdsLeaveSitesAloneWithAReason) {
  SequenceParallelismPlanOptions options;
  options.minTokens = 128;
  SequenceParallelismPlan result = plan(kTwoSites, options);
  EXPECT_TRUE(result.sites.empty());
  ASSERT_EQ(result.leftAlone.size(), 2u);
  EXPECT_EQ(result.leftAlone.front().second,
            "64 tokens are below min-tokens=128");
  // Hidden 8 is far below sm90's 8192: no device threshold applies.
  options.minTokens = 0;
  options.device = GPUGeneration::sm90;
  EXPECT_EQ(plan(kTwoSites, options).sites.size(), 2u);
  // sm100 applies to every hidden size: 32 MiB * 2 / (8 * 2) tokens.
  options.device = GPUGeneration::sm100;
  result = plan(kTwoSites, options);
  EXPECT_TRUE(result.sites.empty());
  EXPECT_NE(result.leftAlone.front().second.find(
                "below vLLM's threshold of 4194304 for device=sm100"),
            std::string::npos)
      << result.leftAlone.front().second;
}

TEST_F(PlannerTest, UnreplicatedWeightsBlockTheNorm) {
  constexpr StringLiteral source = R"mlir(
    sp.group @tp size(2)
    func.func @f(%x: tensor<64x8xbf16>, %w: tensor<8xbf16>) -> tensor<64x8xbf16> {
      %a = sp.all_reduce %x over @tp : tensor<64x8xbf16>
      %n = sp.rms_norm %a, %w epsilon = 1.0e-6 : tensor<64x8xbf16>, tensor<8xbf16>
      return %n : tensor<64x8xbf16>
    })mlir";
  SequenceParallelismPlan result = plan(source);
  EXPECT_TRUE(result.sites.empty());
  ASSERT_EQ(result.leftAlone.size(), 1u);
  EXPECT_NE(result.leftAlone.front().second.find(
                "none of its users can run on local rows: the weight "
                "(argument #1)"),
            std::string::npos)
      << result.leftAlone.front().second;
  // vLLM's trust model: every argument is replicated.
  EXPECT_EQ(plan(source, {}, /*assumeReplicated=*/true).sites.size(), 1u);
}

TEST_F(PlannerTest, SitesThatWouldAddCommunicationAreDropped) {
  // The all_reduce's value is also returned, so the rewrite would gather it
  // besides the norm's output: more bytes than the all_reduce it replaces.
  SequenceParallelismPlan result = plan(R"mlir(
    sp.group @tp size(2)
    func.func @f(%x: tensor<64x8xbf16>, %w: tensor<8xbf16> {sp.replicated})
        -> (tensor<64x8xbf16>, tensor<64x8xbf16>) {
      %a = sp.all_reduce %x over @tp : tensor<64x8xbf16>
      %n = sp.rms_norm %a, %w epsilon = 1.0e-6 : tensor<64x8xbf16>, tensor<8xbf16>
      return %a, %n : tensor<64x8xbf16>, tensor<64x8xbf16>
    })mlir");
  EXPECT_TRUE(result.sites.empty());
  ASSERT_EQ(result.leftAlone.size(), 1u);
  EXPECT_NE(result.leftAlone.front().second.find(
                "rewriting it would add 512 bytes per rank of communication "
                "(its result feeds 'func.return'"),
            std::string::npos)
      << result.leftAlone.front().second;
}

/// A what-if plan (the per-range decisions of dynamic=guard): a dynamic
/// token dim whose rows come from an argument counts as `assumedTokens`,
/// with every threshold applied to that count, and only the function in
/// `scope` is planned.
TEST_F(PlannerTest, WhatIfPlansDynamicTokensAtAssumedCount) {
  const char *source = R"mlir(
    sp.group @tp size(2)
    func.func @f(%x: tensor<?x8xbf16>, %w: tensor<8xbf16> {sp.replicated})
        -> tensor<?x8xbf16> {
      %a = sp.all_reduce %x over @tp : tensor<?x8xbf16>
      %n = sp.rms_norm %a, %w epsilon = 1.0e-6 : tensor<?x8xbf16>, tensor<8xbf16>
      return %n : tensor<?x8xbf16>
    }
    func.func @g(%x: tensor<16x8xbf16>, %w: tensor<8xbf16> {sp.replicated})
        -> tensor<16x8xbf16> {
      %a = sp.all_reduce %x over @tp : tensor<16x8xbf16>
      %n = sp.rms_norm %a, %w epsilon = 1.0e-6 : tensor<16x8xbf16>, tensor<8xbf16>
      return %n : tensor<16x8xbf16>
    })mlir";
  SequenceParallelismPlan unguarded = plan(source);
  EXPECT_EQ(unguarded.sites.size(), 1u); // @g only
  Operation *f = ops("func.func").front();
  ReplicationAnalysis replication;
  SequenceParallelismPlanOptions options;
  options.scope = f;
  options.minTokens = 64;
  options.assumedTokens = 64;
  SequenceParallelismPlan at64 =
      planSequenceParallelism(*module, replication, options);
  ASSERT_EQ(at64.sites.size(), 1u);
  EXPECT_TRUE(f->isAncestor(*at64.sites.begin()));
  EXPECT_TRUE(at64.leftAlone.empty()); // @g is out of scope
  options.assumedTokens = 32;
  SequenceParallelismPlan at32 =
      planSequenceParallelism(*module, replication, options);
  EXPECT_TRUE(at32.sites.empty());
  ASSERT_EQ(at32.leftAlone.size(), 1u);
  EXPECT_EQ(at32.leftAlone.front().second,
            "32 tokens are below min-tokens=64");
}

TEST_F(PlannerTest, IllegalSitesSayWhy) {
  SequenceParallelismPlan result = plan(R"mlir(
    sp.group @tp size(4)
    sp.group @one size(1)
    func.func @f(%x: tensor<6x8xbf16>, %d: tensor<?x8xbf16>, %v: tensor<8xbf16>,
                 %w: tensor<8xbf16> {sp.replicated})
        -> (tensor<6x8xbf16>, tensor<?x8xbf16>, tensor<8xbf16>, tensor<6x8xbf16>) {
      %a = sp.all_reduce %x over @tp : tensor<6x8xbf16>
      %na = sp.rms_norm %a, %w epsilon = 1.0e-6 : tensor<6x8xbf16>, tensor<8xbf16>
      %b = sp.all_reduce %d over @tp : tensor<?x8xbf16>
      %nb = sp.rms_norm %b, %w epsilon = 1.0e-6 : tensor<?x8xbf16>, tensor<8xbf16>
      %c = sp.all_reduce %v over @tp : tensor<8xbf16>
      %e = sp.all_reduce %x over @one : tensor<6x8xbf16>
      %ne = sp.rms_norm %e, %w epsilon = 1.0e-6 : tensor<6x8xbf16>, tensor<8xbf16>
      return %na, %nb, %c, %ne : tensor<6x8xbf16>, tensor<?x8xbf16>, tensor<8xbf16>, tensor<6x8xbf16>
    })mlir");
  EXPECT_TRUE(result.sites.empty());
  SmallVector<std::string> reasons;
  for (auto &entry : result.leftAlone)
    reasons.push_back(entry.second);
  ASSERT_EQ(reasons.size(), 4u);
  EXPECT_EQ(reasons[0], "6 tokens are not divisible by the group size 4");
  EXPECT_EQ(reasons[1], "the token dimension (0) is dynamic and no token "
                        "guard covers it (see the report's \"dynamic\" "
                        "section)");
  EXPECT_EQ(reasons[2], "its value has rank 1; it needs a token dimension (0) "
                        "besides the hidden dimension");
  EXPECT_EQ(reasons[3], "group @one has a single rank");
}

namespace {
// A scan: the hidden state and the residual are iter_args.
constexpr StringLiteral kScan = R"mlir(
  sp.group @tp size(2)
  func.func @f(%x: tensor<8x16xbf16>, %w: tensor<16xbf16> {sp.replicated},
               %wl: tensor<16x16xbf16>) -> tensor<8x16xbf16> {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    %zero = arith.constant dense<0.0> : tensor<8x16xbf16>
    %h0 = sp.all_reduce %x over @tp : tensor<8x16xbf16>
    %h, %res = scf.for %i = %c0 to %c4 step %c1 iter_args(%hi = %h0, %ri = %zero)
        -> (tensor<8x16xbf16>, tensor<8x16xbf16>) {
      %n, %r = sp.fused_add_rms_norm %hi, %ri, %w epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
      %p = linalg.matmul ins(%n, %wl : tensor<8x16xbf16>, tensor<16x16xbf16>)
          outs(%zero : tensor<8x16xbf16>) -> tensor<8x16xbf16>
      %o = sp.all_reduce %p over @tp : tensor<8x16xbf16>
      scf.yield %o, %r : tensor<8x16xbf16>, tensor<8x16xbf16>
    }
    %f, %fr = sp.fused_add_rms_norm %h, %res, %w epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
    return %f : tensor<8x16xbf16>
  })mlir";
} // namespace

TEST_F(PlannerTest, CarriesLoopIterArgsOnLocalRows) {
  SequenceParallelismPlan result = plan(kScan);
  auto loop = ops("scf.for");
  ASSERT_EQ(loop.size(), 1u);
  EXPECT_EQ(result.sites.size(), 2u);
  EXPECT_TRUE(result.leftAlone.empty());
  ASSERT_EQ(result.carried.size(), 2u);
  unsigned index = 0;
  for (auto &entry : result.carried) {
    const CarriedBoundary &b = entry.second;
    EXPECT_EQ(b.op, loop[0]);
    EXPECT_EQ(b.kind, CarriedBoundary::Kind::iterArg);
    EXPECT_EQ(b.index, index++);
    EXPECT_EQ(b.crossings, 4);
    EXPECT_EQ(cast<RankedTensorType>(b.localType).getDimSize(0), 4);
  }
  // Both norms (in the body and after the loop) run on local rows.
  EXPECT_TRUE(result.localOps.contains(ops("sp.fused_add_rms_norm")[0]));
  EXPECT_TRUE(result.localOps.contains(ops("sp.fused_add_rms_norm")[1]));
  EXPECT_TRUE(result.fullRows.empty());
}

TEST_F(PlannerTest, CarryOffKeepsLoopsOnFullRows) {
  SequenceParallelismPlanOptions options;
  options.carry = false;
  SequenceParallelismPlan result = plan(kScan, options);
  EXPECT_TRUE(result.carried.empty());
  EXPECT_TRUE(result.sites.empty());
  EXPECT_EQ(result.leftAlone.size(), 2u);
}

TEST_F(PlannerTest, CarriedStepKeepsTheLoopValid) {
  SequenceParallelismPlan result = plan(kScan);
  ASSERT_EQ(result.carried.size(), 2u);
  IRRewriter rewriter(&context);
  for (auto &entry : result.carried)
    carryOnLocalRows(rewriter, entry.second);
  EXPECT_TRUE(succeeded(verify(*module)));
  auto loop = cast<scf::ForOp>(ops("scf.for")[0]);
  for (Type type : loop.getResultTypes())
    EXPECT_EQ(cast<RankedTensorType>(type).getDimSize(0), 4);
  // Sliced on entry, gathered in the body and after the loop.
  EXPECT_EQ(ops("sp.all_slice").size(), 4u);
  EXPECT_EQ(ops("sp.all_gather").size(), 4u);
}
