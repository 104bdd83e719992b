//===- ReplicationControlFlowTest.cpp - replication through scf and calls -===//
//
// The replication analysis through loops (loop-carried values reach a
// fixpoint), branches (a condition that varies makes the results vary),
// calls (private callees see their call sites) and recursion, with the
// traps that must stay "not replicated".
//
//===----------------------------------------------------------------------===//

#include "sp/Dialect/SP/Analysis/Replication.h"
#include "sp/Dialect/SP/IR/SPOps.h"
#include "sp/Registration/Registration.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

using namespace mlir;

namespace {
class ReplicationControlFlowTest : public ::testing::Test {
protected:
  ReplicationControlFlowTest() {
    DialectRegistry registry;
    sp::registerSPDialects(registry);
    registry.insert<scf::SCFDialect>();
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }

  void parse(StringRef source) {
    module = parseSourceString<ModuleOp>(source, &context);
    ASSERT_TRUE(module);
  }

  func::FuncOp function(StringRef name) {
    return cast<func::FuncOp>(module->lookupSymbol(name));
  }

  /// The values `name`'s return names, in order.
  SmallVector<Value> returnedBy(StringRef name) {
    auto ret = cast<func::ReturnOp>(
        function(name).getBody().back().getTerminator());
    return SmallVector<Value>(ret.getOperands());
  }

  /// The results of the first op named `opName` in `name`, then its
  /// regions' entry block arguments.
  SmallVector<Value> valuesOfFirst(StringRef name, StringRef opName) {
    SmallVector<Value> values;
    function(name).walk([&](Operation *op) {
      if (!values.empty() || op->getName().getStringRef() != opName)
        return;
      values.append(op->result_begin(), op->result_end());
      for (Region &region : op->getRegions())
        if (!region.empty())
          values.append(region.front().args_begin(), region.front().args_end());
    });
    return values;
  }

  MLIRContext context;
  OwningOpRef<ModuleOp> module;
};
} // namespace

TEST_F(ReplicationControlFlowTest, ForLoopCarriedFixpoint) {
  // %a: replicated on entry and updated from replicated values; %b:
  // replicated on entry but updated from a per-rank value (the trap).
  parse(R"mlir(
    sp.group @tp size(2)
    func.func @f(%w: tensor<4xf32> {sp.replicated}, %x: tensor<4xf32>)
        -> (tensor<4xf32>, tensor<4xf32>) {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %c4 = arith.constant 4 : index
      %a, %b = scf.for %i = %c0 to %c4 step %c1
          iter_args(%ra = %w, %rb = %w) -> (tensor<4xf32>, tensor<4xf32>) {
        %na = arith.addf %ra, %w : tensor<4xf32>
        %s = sp.all_reduce %x over @tp : tensor<4xf32>
        %na2 = arith.addf %na, %s : tensor<4xf32>
        %nb = arith.addf %rb, %x : tensor<4xf32>
        scf.yield %na2, %nb : tensor<4xf32>, tensor<4xf32>
      }
      return %a, %b : tensor<4xf32>, tensor<4xf32>
    })mlir");
  SmallVector<Value> results = returnedBy("f");
  SmallVector<Value> loop = valuesOfFirst("f", "scf.for");
  ASSERT_EQ(loop.size(), 5u); // 2 results, %i, %ra, %rb
  sp::ReplicationAnalysis analysis;
  EXPECT_TRUE(analysis.isReplicated(results[0]));
  EXPECT_FALSE(analysis.isReplicated(results[1]));
  EXPECT_TRUE(analysis.isReplicated(loop[2]));  // %i: replicated bounds
  EXPECT_TRUE(analysis.isReplicated(loop[3]));  // %ra
  EXPECT_FALSE(analysis.isReplicated(loop[4])); // %rb: updated per rank
}

TEST_F(ReplicationControlFlowTest, ForBoundsThatVaryMakeResultsVary) {
  // The trip count depends on the rank: the carried value, replicated in
  // every iteration, still ends up different on different ranks.
  parse(R"mlir(
    sp.group @tp size(2)
    func.func @f(%w: tensor<4xf32> {sp.replicated}) -> tensor<4xf32> {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %n = sp.group_rank @tp
      %a = scf.for %i = %c0 to %n step %c1
          iter_args(%r = %w) -> (tensor<4xf32>) {
        %next = arith.addf %r, %w : tensor<4xf32>
        scf.yield %next : tensor<4xf32>
      }
      return %a : tensor<4xf32>
    })mlir");
  SmallVector<Value> loop = valuesOfFirst("f", "scf.for");
  sp::ReplicationAnalysis analysis;
  EXPECT_FALSE(analysis.isReplicated(returnedBy("f")[0]));
  EXPECT_FALSE(analysis.isReplicated(loop[1])); // %i
}

TEST_F(ReplicationControlFlowTest, IfOnReplicatedCondition) {
  parse(R"mlir(
    sp.group @tp size(2)
    func.func @f(%p: i1 {sp.replicated}, %w: tensor<4xf32> {sp.replicated},
                 %x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
      %a = scf.if %p -> tensor<4xf32> {
        %s = sp.all_reduce %x over @tp : tensor<4xf32>
        scf.yield %s : tensor<4xf32>
      } else {
        scf.yield %w : tensor<4xf32>
      }
      %b = scf.if %p -> tensor<4xf32> {
        scf.yield %w : tensor<4xf32>
      } else {
        scf.yield %x : tensor<4xf32>
      }
      return %a, %b : tensor<4xf32>, tensor<4xf32>
    })mlir");
  SmallVector<Value> results = returnedBy("f");
  sp::ReplicationAnalysis analysis;
  EXPECT_TRUE(analysis.isReplicated(results[0]));
  // One path yields a per-rank value (the trap).
  EXPECT_FALSE(analysis.isReplicated(results[1]));
}

TEST_F(ReplicationControlFlowTest, IfOnRankDependentCondition) {
  // Both branches yield replicated values, but which one a rank takes
  // depends on its rank: the result differs by rank (the trap).
  parse(R"mlir(
    sp.group @tp size(2)
    func.func @f(%w: tensor<4xf32> {sp.replicated}) -> tensor<4xf32> {
      %c0 = arith.constant 0 : index
      %k = sp.group_rank @tp
      %first = arith.cmpi eq, %k, %c0 : index
      %a = scf.if %first -> tensor<4xf32> {
        scf.yield %w : tensor<4xf32>
      } else {
        %z = arith.constant dense<0.0> : tensor<4xf32>
        scf.yield %z : tensor<4xf32>
      }
      return %a : tensor<4xf32>
    })mlir");
  sp::ReplicationAnalysis analysis;
  EXPECT_FALSE(analysis.isReplicated(returnedBy("f")[0]));
}

TEST_F(ReplicationControlFlowTest, IfOnConstantSkipsTheDeadBranch) {
  // Constant propagation and dead code: the per-rank value is on a branch
  // that never runs.
  parse(R"mlir(
    func.func @f(%w: tensor<4xf32> {sp.replicated}, %x: tensor<4xf32>)
        -> tensor<4xf32> {
      %true = arith.constant true
      %a = scf.if %true -> tensor<4xf32> {
        scf.yield %w : tensor<4xf32>
      } else {
        scf.yield %x : tensor<4xf32>
      }
      return %a : tensor<4xf32>
    })mlir");
  sp::ReplicationAnalysis analysis;
  EXPECT_TRUE(analysis.isReplicated(returnedBy("f")[0]));
}

TEST_F(ReplicationControlFlowTest, WhileLoops) {
  // %a: carried from replicated values under a replicated condition; %b:
  // a per-rank update (the trap); %c: a condition that depends on a
  // per-rank value makes the replicated carried value vary.
  parse(R"mlir(
    func.func @f(%w: tensor<4xf32> {sp.replicated}, %x: tensor<4xf32>,
                 %n: index {sp.replicated}, %m: index)
        -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %i, %a, %b = scf.while (%j = %c0, %ra = %w, %rb = %w)
          : (index, tensor<4xf32>, tensor<4xf32>)
          -> (index, tensor<4xf32>, tensor<4xf32>) {
        %go = arith.cmpi slt, %j, %n : index
        scf.condition(%go) %j, %ra, %rb : index, tensor<4xf32>, tensor<4xf32>
      } do {
      ^bb0(%k: index, %sa: tensor<4xf32>, %sb: tensor<4xf32>):
        %k1 = arith.addi %k, %c1 : index
        %na = arith.addf %sa, %w : tensor<4xf32>
        %nb = arith.addf %sb, %x : tensor<4xf32>
        scf.yield %k1, %na, %nb : index, tensor<4xf32>, tensor<4xf32>
      }
      %i2, %c = scf.while (%j = %c0, %rc = %w)
          : (index, tensor<4xf32>) -> (index, tensor<4xf32>) {
        %go = arith.cmpi slt, %j, %m : index
        scf.condition(%go) %j, %rc : index, tensor<4xf32>
      } do {
      ^bb0(%k: index, %sc: tensor<4xf32>):
        %k1 = arith.addi %k, %c1 : index
        %nc = arith.addf %sc, %w : tensor<4xf32>
        scf.yield %k1, %nc : index, tensor<4xf32>
      }
      return %a, %b, %c : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
    })mlir");
  SmallVector<Value> results = returnedBy("f");
  sp::ReplicationAnalysis analysis;
  EXPECT_TRUE(analysis.isReplicated(results[0]));
  EXPECT_FALSE(analysis.isReplicated(results[1]));
  EXPECT_FALSE(analysis.isReplicated(results[2]));
}

TEST_F(ReplicationControlFlowTest, PrivateCalleeSeesItsCallSites) {
  // @layer is called twice with replicated weights: its weight argument and
  // its result are replicated without any attribute on the callee.
  // @mixed is called once with a replicated and once with a per-rank value.
  parse(R"mlir(
    sp.group @tp size(2)
    func.func @main(%w0: tensor<4xf32> {sp.replicated},
                    %w1: tensor<4xf32> {sp.replicated}, %x: tensor<4xf32>)
        -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
      %r = sp.all_reduce %x over @tp : tensor<4xf32>
      %h0 = func.call @layer(%r, %w0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
      %h1 = func.call @layer(%h0, %w1) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
      %m0 = func.call @mixed(%w0) : (tensor<4xf32>) -> tensor<4xf32>
      %m1 = func.call @mixed(%x) : (tensor<4xf32>) -> tensor<4xf32>
      return %h1, %m0, %m1 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
    }
    func.func private @layer(%h: tensor<4xf32>, %w: tensor<4xf32>)
        -> tensor<4xf32> {
      %y = arith.mulf %h, %w : tensor<4xf32>
      return %y : tensor<4xf32>
    }
    func.func private @mixed(%v: tensor<4xf32>) -> tensor<4xf32> {
      return %v : tensor<4xf32>
    }
    func.func private @external(tensor<4xf32>) -> tensor<4xf32>
    func.func @uses_external(%w: tensor<4xf32> {sp.replicated})
        -> tensor<4xf32> {
      %e = func.call @external(%w) : (tensor<4xf32>) -> tensor<4xf32>
      return %e : tensor<4xf32>
    })mlir");
  SmallVector<Value> results = returnedBy("main");
  sp::ReplicationAnalysis analysis;
  func::FuncOp layer = function("layer");
  EXPECT_TRUE(analysis.isReplicated(layer.getArgument(0)));
  EXPECT_TRUE(analysis.isReplicated(layer.getArgument(1)));
  EXPECT_TRUE(analysis.isReplicated(results[0]));
  EXPECT_FALSE(analysis.isReplicated(function("mixed").getArgument(0)));
  // Both call results are what @mixed returns over all its callers.
  EXPECT_FALSE(analysis.isReplicated(results[1]));
  EXPECT_FALSE(analysis.isReplicated(results[2]));
  // An external function's result is unknown.
  EXPECT_FALSE(analysis.isReplicated(returnedBy("uses_external")[0]));
}

TEST_F(ReplicationControlFlowTest, PublicCalleeUsesItsAttributes) {
  // A public function may be called from outside: its arguments are what
  // their attributes say, whatever the calls in the module pass.
  parse(R"mlir(
    func.func @main(%w: tensor<4xf32> {sp.replicated}) -> tensor<4xf32> {
      %y = func.call @layer(%w) : (tensor<4xf32>) -> tensor<4xf32>
      return %y : tensor<4xf32>
    }
    func.func @layer(%h: tensor<4xf32>) -> tensor<4xf32> {
      return %h : tensor<4xf32>
    })mlir");
  sp::ReplicationAnalysis analysis;
  EXPECT_FALSE(analysis.isReplicated(function("layer").getArgument(0)));
  sp::ReplicationAnalysis trusting(/*assumeArguments=*/true);
  EXPECT_TRUE(trusting.isReplicated(function("layer").getArgument(0)));
}

TEST_F(ReplicationControlFlowTest, Recursion) {
  // @down passes its replicated argument on to itself: replicated at the
  // fixpoint. @drift mixes a per-rank value into the recursive call.
  parse(R"mlir(
    func.func @main(%w: tensor<4xf32> {sp.replicated}, %x: tensor<4xf32>,
                    %n: index {sp.replicated})
        -> (tensor<4xf32>, tensor<4xf32>) {
      %a = func.call @down(%w, %n) : (tensor<4xf32>, index) -> tensor<4xf32>
      %b = func.call @drift(%w, %x, %n)
          : (tensor<4xf32>, tensor<4xf32>, index) -> tensor<4xf32>
      return %a, %b : tensor<4xf32>, tensor<4xf32>
    }
    func.func private @down(%v: tensor<4xf32>, %n: index) -> tensor<4xf32> {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %done = arith.cmpi eq, %n, %c0 : index
      %r = scf.if %done -> tensor<4xf32> {
        scf.yield %v : tensor<4xf32>
      } else {
        %m = arith.subi %n, %c1 : index
        %v2 = arith.addf %v, %v : tensor<4xf32>
        %d = func.call @down(%v2, %m) : (tensor<4xf32>, index) -> tensor<4xf32>
        scf.yield %d : tensor<4xf32>
      }
      return %r : tensor<4xf32>
    }
    func.func private @drift(%v: tensor<4xf32>, %x: tensor<4xf32>, %n: index)
        -> tensor<4xf32> {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %done = arith.cmpi eq, %n, %c0 : index
      %r = scf.if %done -> tensor<4xf32> {
        scf.yield %v : tensor<4xf32>
      } else {
        %m = arith.subi %n, %c1 : index
        %v2 = arith.addf %v, %x : tensor<4xf32>
        %d = func.call @drift(%v2, %x, %m)
            : (tensor<4xf32>, tensor<4xf32>, index) -> tensor<4xf32>
        scf.yield %d : tensor<4xf32>
      }
      return %r : tensor<4xf32>
    })mlir");
  SmallVector<Value> results = returnedBy("main");
  sp::ReplicationAnalysis analysis;
  EXPECT_TRUE(analysis.isReplicated(results[0]));
  EXPECT_TRUE(analysis.isReplicated(function("down").getArgument(0)));
  EXPECT_FALSE(analysis.isReplicated(results[1]));
  EXPECT_FALSE(analysis.isReplicated(function("drift").getArgument(0)));
}

TEST_F(ReplicationControlFlowTest, UncalledPrivateFunctionAsIfCalledFromOutside) {
  // Nobody calls @unused: it is analyzed on its own, its arguments what
  // their attributes say.
  parse(R"mlir(
    func.func private @unused(%w: tensor<4xf32> {sp.replicated},
                              %x: tensor<4xf32>)
        -> (tensor<4xf32>, tensor<4xf32>) {
      %y = arith.addf %w, %w : tensor<4xf32>
      %z = arith.addf %w, %x : tensor<4xf32>
      return %y, %z : tensor<4xf32>, tensor<4xf32>
    })mlir");
  SmallVector<Value> results = returnedBy("unused");
  sp::ReplicationAnalysis analysis;
  EXPECT_TRUE(analysis.isReplicated(results[0]));
  EXPECT_FALSE(analysis.isReplicated(results[1]));
}
