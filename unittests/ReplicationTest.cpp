//===- ReplicationTest.cpp - the replication analysis ---------------------===//

#include "sp/Dialect/SP/Transforms/Replication.h"
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
