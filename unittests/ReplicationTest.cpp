//===- ReplicationTest.cpp - the replication analysis ---------------------===//

#include "sp/Dialect/SP/Analysis/Replication.h"
#include "sp/Dialect/SP/IR/SPOps.h"
#include "sp/Registration/Registration.h"

#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

using namespace mlir;

namespace {
class ReplicationTest : public ::testing::Test {
protected:
  ReplicationTest() {
    DialectRegistry registry;
    sp::registerSPDialects(registry);
    registry.insert<cf::ControlFlowDialect>();
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }

  /// Parses `source` and returns the values named by the function's return,
  /// in order.
  SmallVector<Value> returned(StringRef source) {
    module = parseSourceString<ModuleOp>(source, &context);
    EXPECT_TRUE(module);
    auto func = *module->getOps<func::FuncOp>().begin();
    auto ret = cast<func::ReturnOp>(func.getBody().back().getTerminator());
    return SmallVector<Value>(ret.getOperands());
  }

  MLIRContext context;
  OwningOpRef<ModuleOp> module;
};
} // namespace

TEST_F(ReplicationTest, Sources) {
  auto values = returned(R"mlir(
    sp.group @tp size(2)
    func.func @f(%a: tensor<4xf32> {sp.replicated}, %b: tensor<4xf32>)
        -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<8xf32>,
            tensor<4xf32>, tensor<2xf32>, tensor<2xf32>) {
      %c = arith.constant dense<1.0> : tensor<4xf32>
      %r = sp.all_reduce %b over @tp : tensor<4xf32>
      %g = sp.all_gather %b over @tp : tensor<4xf32> -> tensor<8xf32>
      %s = sp.reduce_scatter %a over @tp : tensor<4xf32> -> tensor<2xf32>
      %l = sp.all_slice %a over @tp : tensor<4xf32> -> tensor<2xf32>
      return %a, %b, %c, %g, %r, %s, %l
          : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<8xf32>,
            tensor<4xf32>, tensor<2xf32>, tensor<2xf32>
    })mlir");
  ASSERT_EQ(values.size(), 7u);
  sp::ReplicationAnalysis analysis;
  EXPECT_TRUE(analysis.isReplicated(values[0]));  // sp.replicated argument
  EXPECT_FALSE(analysis.isReplicated(values[1])); // plain argument
  EXPECT_TRUE(analysis.isReplicated(values[2]));  // constant
  EXPECT_TRUE(analysis.isReplicated(values[3]));  // all_gather
  EXPECT_TRUE(analysis.isReplicated(values[4]));  // all_reduce
  EXPECT_FALSE(analysis.isReplicated(values[5])); // reduce_scatter: per rank
  EXPECT_FALSE(analysis.isReplicated(values[6])); // all_slice: per rank

  sp::ReplicationAnalysis trusting(/*assumeArguments=*/true);
  EXPECT_TRUE(trusting.isReplicated(values[1]));
  EXPECT_FALSE(trusting.isReplicated(values[5]));
}

TEST_F(ReplicationTest, PureFunctionsPropagate) {
  auto values = returned(R"mlir(
    func.func @f(%a: tensor<4xf32> {sp.replicated}, %b: tensor<4xf32>)
        -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
      %c = arith.constant dense<2.0> : tensor<4xf32>
      %x = arith.mulf %a, %c : tensor<4xf32>
      %y = arith.addf %x, %a : tensor<4xf32>
      %z = arith.addf %y, %b : tensor<4xf32>
      return %x, %y, %z : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
    })mlir");
  sp::ReplicationAnalysis analysis;
  EXPECT_TRUE(analysis.isReplicated(values[0]));
  EXPECT_TRUE(analysis.isReplicated(values[1]));
  EXPECT_FALSE(analysis.isReplicated(values[2])); // mixes in a per-rank value
}

TEST_F(ReplicationTest, DeepChainDoesNotRecurse) {
  // 20000 chained adds: an iterative walk must handle it.
  std::string source =
      "func.func @f(%a: tensor<4xf32> {sp.replicated}) -> tensor<4xf32> {\n"
      "  %v0 = arith.addf %a, %a : tensor<4xf32>\n";
  for (int i = 1; i < 20000; ++i)
    source += "  %v" + std::to_string(i) + " = arith.addf %v" +
              std::to_string(i - 1) + ", %a : tensor<4xf32>\n";
  source += "  return %v19999 : tensor<4xf32>\n}\n";
  auto values = returned(source);
  sp::ReplicationAnalysis analysis;
  EXPECT_TRUE(analysis.isReplicated(values[0]));
}

TEST_F(ReplicationTest, InnerBlockArgumentsAreNotReplicated) {
  auto values = returned(R"mlir(
    func.func @f(%a: tensor<4xf32> {sp.replicated}) -> tensor<4xf32> {
      cf.br ^bb1(%a : tensor<4xf32>)
    ^bb1(%x: tensor<4xf32>):
      return %x : tensor<4xf32>
    })mlir");
  sp::ReplicationAnalysis analysis;
  EXPECT_FALSE(analysis.isReplicated(values[0]));
}

TEST_F(ReplicationTest, GridAxes) {
  // DP 2 x TP 2: %x is split over dp (axis 0), the same within a tp group.
  auto values = returned(R"mlir(
    sp.group @tp size(2) grid [2, 2] axes [1]
    sp.group @dp size(2) grid [2, 2] axes [0]
    func.func @f(%x: tensor<4xf32> {sp.replicated_axes = array<i64: 1>},
                 %w: tensor<4xf32>)
        -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xf32>,
            index, tensor<4xf32>, tensor<4xf32>) {
      %r = sp.all_reduce %w over @tp : tensor<4xf32>
      %rr = sp.all_reduce %r over @dp : tensor<4xf32>
      %s = sp.reduce_scatter %x over @dp : tensor<4xf32> -> tensor<2xf32>
      %k = sp.group_rank @dp
      %g = sp.all_reduce %x over @dp : tensor<4xf32>
      return %x, %r, %rr, %s, %k, %w, %g
          : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xf32>,
            index, tensor<4xf32>, tensor<4xf32>
    })mlir");
  ASSERT_EQ(values.size(), 7u);
  auto group = [&](StringRef name) {
    return cast<sp::GroupOp>(module->lookupSymbol(name));
  };
  sp::ReplicationAnalysis analysis;
  sp::GroupOp tp = group("tp"), dp = group("dp");
  // %x: the same within tp, not within dp, not everywhere.
  EXPECT_TRUE(analysis.isReplicatedWithin(values[0], tp));
  EXPECT_FALSE(analysis.isReplicatedWithin(values[0], dp));
  EXPECT_FALSE(analysis.isReplicated(values[0]));
  // all_reduce over tp: the same within tp only; then over dp: everywhere.
  EXPECT_TRUE(analysis.isReplicatedWithin(values[1], tp));
  EXPECT_FALSE(analysis.isReplicatedWithin(values[1], dp));
  EXPECT_TRUE(analysis.isReplicated(values[2]));
  // reduce_scatter over dp of %x keeps what held along tp.
  EXPECT_TRUE(analysis.isReplicatedWithin(values[3], tp));
  EXPECT_FALSE(analysis.isReplicatedWithin(values[3], dp));
  // The dp rank is the same within a tp group.
  EXPECT_TRUE(analysis.isReplicatedWithin(values[4], tp));
  EXPECT_FALSE(analysis.isReplicatedWithin(values[4], dp));
  // A plain argument holds nowhere; %x all-reduced over dp: everywhere.
  EXPECT_FALSE(analysis.isReplicatedWithin(values[5], tp));
  EXPECT_TRUE(analysis.isReplicated(values[6]));
}

TEST_F(ReplicationTest, DifferentGridsAreConservative) {
  // Two grids: axes do not compare across them, so nothing is gained from
  // layout groups (but a group of every rank still gives everything).
  auto values = returned(R"mlir(
    sp.group @a size(2) grid [2, 2] axes [1]
    sp.group @b size(2) grid [2, 4] axes [0]
    sp.group @all size(4)
    func.func @f(%w: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
      %r = sp.all_reduce %w over @a : tensor<4xf32>
      %e = sp.all_reduce %w over @all : tensor<4xf32>
      return %r, %e : tensor<4xf32>, tensor<4xf32>
    })mlir");
  sp::ReplicationAnalysis analysis;
  auto a = cast<sp::GroupOp>(module->lookupSymbol("a"));
  EXPECT_FALSE(analysis.isReplicatedWithin(values[0], a));
  EXPECT_TRUE(analysis.isReplicated(values[1]));
}

TEST_F(ReplicationTest, GemmProductsFollowTheWeight) {
  // The product of a gathered lhs with a weight shard varies; with a
  // replicated weight it is the same everywhere.
  auto values = returned(R"mlir(
    sp.group @tp size(2)
    func.func @f(%x: tensor<4x8xf32>, %shard: tensor<8x2xf32>,
                 %w: tensor<8x2xf32> {sp.replicated})
        -> (tensor<8x2xf32>, tensor<8x2xf32>, tensor<8x8xf32>) {
      %p = sp.all_gather_matmul %x, %shard over @tp : tensor<4x8xf32>, tensor<8x2xf32> -> tensor<8x2xf32>
      %q, %g = sp.all_gather_matmul %x, %w over @tp : tensor<4x8xf32>, tensor<8x2xf32> -> tensor<8x2xf32>, tensor<8x8xf32>
      return %p, %q, %g : tensor<8x2xf32>, tensor<8x2xf32>, tensor<8x8xf32>
    })mlir");
  sp::ReplicationAnalysis analysis;
  EXPECT_FALSE(analysis.isReplicated(values[0]));
  EXPECT_TRUE(analysis.isReplicated(values[1]));
  EXPECT_TRUE(analysis.isReplicated(values[2]));
}
