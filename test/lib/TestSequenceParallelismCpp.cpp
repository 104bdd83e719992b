//===- TestSequenceParallelismCpp.cpp - the rewrite with C++ patterns -----===//
//
// test-sp-sequence-parallelism-cpp: sp-sequence-parallelism's plan and
// driver with the PDLL patterns written as C++ patterns instead. It exists
// to measure what interpreting PDL costs (bench/compile_time.py) and to
// cross-check the PDLL patterns (both must give identical IR).
//
//===----------------------------------------------------------------------===//

#include "sp/Dialect/SP/Analysis/Replication.h"
#include "sp/Dialect/SP/IR/SPOps.h"
#include "sp/Dialect/SP/Transforms/SequenceParallelism.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;
using namespace mlir::sp;

namespace {
/// A pattern that consults the plan, with the PDLL pattern's benefit.
template <typename OpTy, unsigned Benefit>
struct PlannedPattern : OpRewritePattern<OpTy> {
  PlannedPattern(MLIRContext *context, SequenceParallelismPlan &plan)
      : OpRewritePattern<OpTy>(context, Benefit), plan(plan) {}
  SequenceParallelismPlan &plan;
};

/// The rewrites of SequenceParallelism.pdll as C++ patterns. They create the
/// same ops in the same order, so both sets give identical IR.
struct SplitAllReduceCpp : PlannedPattern<AllReduceOp, 1> {
  using PlannedPattern::PlannedPattern;
  LogicalResult matchAndRewrite(AllReduceOp op,
                                PatternRewriter &rewriter) const override {
    if (!plan.sites.contains(op))
      return failure();
    auto type = cast<RankedTensorType>(op.getType());
    SmallVector<int64_t> shape(type.getShape());
    shape[0] /= *getGroupSize(op);
    IntegerAttr dim = rewriter.getI64IntegerAttr(0);
    Value scatter = ReduceScatterOp::create(
        rewriter, op.getLoc(), type.clone(shape), op.getInput(),
        op.getGroupAttr(), dim, op.getReductionAttr());
    rewriter.replaceOpWithNewOp<AllGatherOp>(op, type, scatter,
                                             op.getGroupAttr(), dim);
    return success();
  }
};

/// The planned op's operand 0 as an all_gather along dim 0, if it is one.
static AllGatherOp plannedGather(Operation *op, SequenceParallelismPlan &plan) {
  auto gather = op->getOperand(0).getDefiningOp<AllGatherOp>();
  if (!gather || !plan.localOps.contains(op) ||
      gather.getDim() != 0)
    return nullptr;
  return gather;
}

struct SinkGatherThroughRMSNormCpp : PlannedPattern<RMSNormOp, 2> {
  using PlannedPattern::PlannedPattern;
  LogicalResult matchAndRewrite(RMSNormOp op,
                                PatternRewriter &rewriter) const override {
    AllGatherOp gather = plannedGather(op, plan);
    if (!gather)
      return failure();
    Value local = gather.getInput();
    Value norm = RMSNormOp::create(rewriter, op.getLoc(), local.getType(),
                                   local, op.getWeight(), op.getEpsilonAttr());
    rewriter.replaceOpWithNewOp<AllGatherOp>(op, op.getType(), norm,
                                             gather.getGroupAttr(),
                                             gather.getDimAttr());
    return success();
  }
};

struct SinkGatherThroughFusedAddRMSNormCpp
    : PlannedPattern<FusedAddRMSNormOp, 2> {
  using PlannedPattern::PlannedPattern;
  LogicalResult matchAndRewrite(FusedAddRMSNormOp op,
                                PatternRewriter &rewriter) const override {
    AllGatherOp gather = plannedGather(op, plan);
    if (!gather)
      return failure();
    Location loc = op.getLoc();
    Value local = gather.getInput();
    Type localType = local.getType();
    Value slice = AllSliceOp::create(rewriter, loc, localType,
                                     op.getResidual(), gather.getGroupAttr(),
                                     gather.getDimAttr());
    auto norm = FusedAddRMSNormOp::create(rewriter, loc, localType, localType,
                                          local, slice, op.getWeight(),
                                          op.getEpsilonAttr());
    Value output = AllGatherOp::create(rewriter, loc, op.getOutput().getType(),
                                       norm.getOutput(), gather.getGroupAttr(),
                                       gather.getDimAttr());
    Value residual = AllGatherOp::create(
        rewriter, loc, op.getResidualOut().getType(), norm.getResidualOut(),
        gather.getGroupAttr(), gather.getDimAttr());
    rewriter.replaceOp(op, {output, residual});
    return success();
  }
};

struct SinkGatherThroughQuantCpp : PlannedPattern<QuantOp, 2> {
  using PlannedPattern::PlannedPattern;
  LogicalResult matchAndRewrite(QuantOp op,
                                PatternRewriter &rewriter) const override {
    AllGatherOp gather = plannedGather(op, plan);
    if (!gather)
      return failure();
    Value local = gather.getInput();
    auto localType = cast<RankedTensorType>(local.getType())
                         .clone(op.getType().getElementType());
    Value quant = QuantOp::create(rewriter, op.getLoc(), localType, local,
                                  op.getScale());
    rewriter.replaceOpWithNewOp<AllGatherOp>(op, op.getType(), quant,
                                             gather.getGroupAttr(),
                                             gather.getDimAttr());
    return success();
  }
};

/// Pattern 2d on any op (the PDLL pattern's rewrite is native C++ already).
struct SinkGatherThroughAnyRowWiseOpCpp : RewritePattern {
  SinkGatherThroughAnyRowWiseOpCpp(MLIRContext *context,
                                   SequenceParallelismPlan &plan)
      : RewritePattern(MatchAnyOpTypeTag(), /*benefit=*/1, context),
        plan(plan) {}
  LogicalResult matchAndRewrite(Operation *op,
                                PatternRewriter &rewriter) const override {
    if (!canSinkGatherThrough(plan, op))
      return failure();
    sinkGatherThroughRowWiseOp(rewriter, op);
    return success();
  }
  SequenceParallelismPlan &plan;
};
} // namespace

namespace {
struct TestSequenceParallelismCppPass
    : public PassWrapper<TestSequenceParallelismCppPass,
                         OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TestSequenceParallelismCppPass)
  StringRef getArgument() const final {
    return "test-sp-sequence-parallelism-cpp";
  }
  StringRef getName() const override { return "TestSequenceParallelismCpp"; }
  StringRef getDescription() const final {
    return "(test only) sp-sequence-parallelism with its default options and "
           "the PDLL patterns as C++ patterns";
  }
  void runOnOperation() override {
    ModuleOp module = getOperation();
    ReplicationAnalysis replication(/*assumeArguments=*/false);
    SequenceParallelismPlan plan = planSequenceParallelism(
        module, replication, SequenceParallelismPlanOptions());
    if (plan.sites.empty())
      return;
    RewritePatternSet patterns(&getContext());
    patterns.add<SplitAllReduceCpp, SinkGatherThroughRMSNormCpp,
                 SinkGatherThroughFusedAddRMSNormCpp,
                 SinkGatherThroughQuantCpp, SinkGatherThroughAnyRowWiseOpCpp>(
        &getContext(), plan);
    populateSliceShrinkingPatterns(patterns);
    populateCarryPatterns(patterns, plan);
    if (failed(applyPlannedRewrites(module, plan,
                                    FrozenRewritePatternSet(std::move(patterns)),
                                    PlannedRewriteOptions())))
      signalPassFailure();
  }
};
} // namespace

namespace mlir::sp::test {
void registerTestSequenceParallelismCppPass() {
  PassRegistration<TestSequenceParallelismCppPass>();
}
} // namespace mlir::sp::test
