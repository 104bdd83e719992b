//===- TestPasses.cpp - passes that exist to test sp ----------------------===//

#include "sp/Dialect/SP/IR/SPOps.h"
#include "sp/Dialect/SP/Transforms/PatternHygiene.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Rewrite/FrozenRewritePatternSet.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

namespace {
/// A deliberately wrong lowering of sp.all_slice: every rank takes rows
/// [0, N/TP) instead of its own chunk. It type-checks and verifies; only
/// running the program (sp-run --compare) shows that it is wrong, which is
/// what the differential tests must catch.
struct SliceFirstRowsPass
    : public PassWrapper<SliceFirstRowsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(SliceFirstRowsPass)
  StringRef getArgument() const final { return "test-sp-slice-first-rows"; }
  StringRef getDescription() const final {
    return "(test only) replace sp.all_slice with a slice of the first chunk "
           "on every rank: a wrong rewrite for the differential tests";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<tensor::TensorDialect>();
  }
  void runOnOperation() override {
    SmallVector<sp::AllSliceOp> slices;
    getOperation().walk([&](sp::AllSliceOp op) { slices.push_back(op); });
    for (sp::AllSliceOp slice : slices) {
      OpBuilder b(slice);
      auto type = cast<RankedTensorType>(slice.getType());
      SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
      SmallVector<OpFoldResult> sizes, strides(type.getRank(),
                                               b.getIndexAttr(1));
      for (int64_t d : type.getShape())
        sizes.push_back(b.getIndexAttr(d));
      Value first = tensor::ExtractSliceOp::create(
          b, slice.getLoc(), type, slice.getInput(), offsets, sizes, strides);
      slice.replaceAllUsesWith(first);
      slice.erase();
    }
  }
};
/// Pattern that changes the op and then claims it did not match.
struct ModifyThenFail : OpRewritePattern<sp::AllReduceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(sp::AllReduceOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.modifyOpInPlace(op, [&] {
      op.setReduction(sp::ReductionKind::max);
    });
    return failure();
  }
};

/// Pattern whose rewrite leaves IR that does not verify (unknown group).
struct BreakVerifier : OpRewritePattern<sp::AllReduceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(sp::AllReduceOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getGroupAttr().getValue() == "nope")
      return failure();
    rewriter.modifyOpInPlace(op, [&] {
      op.setGroupAttr(FlatSymbolRefAttr::get(op.getContext(), "nope"));
    });
    return success();
  }
};

/// Runs a deliberately faulty pattern under the hygiene driver, to show that
/// the driver catches it.
struct PatternHygieneCheckerPass
    : public PassWrapper<PatternHygieneCheckerPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(PatternHygieneCheckerPass)
  PatternHygieneCheckerPass() = default;
  PatternHygieneCheckerPass(const PatternHygieneCheckerPass &other)
      : PassWrapper(other) {}
  StringRef getArgument() const final { return "test-sp-pattern-hygiene"; }
  StringRef getDescription() const final {
    return "(test only) run a faulty pattern under the hygiene checks";
  }
  Option<std::string> fault{*this, "fault",
                            llvm::cl::desc("modify-then-fail or break-verifier"),
                            llvm::cl::init("modify-then-fail")};
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    if (fault == "break-verifier")
      patterns.add<BreakVerifier>(&getContext());
    else
      patterns.add<ModifyThenFail>(&getContext());
    FrozenRewritePatternSet frozen(std::move(patterns));
    std::string problem;
    if (failed(sp::applyPatternsWithHygieneChecks(
            getOperation(), frozen,
            [](Operation *op) { return isa<sp::AllReduceOp>(op); },
            /*listener=*/nullptr, /*maxRewrites=*/-1, problem))) {
      getOperation().emitError() << "pattern hygiene: " << problem;
      signalPassFailure();
    }
  }
};
} // namespace

namespace {
/// A deliberately wrong chunk order for the decomposed collective matmul:
/// the first `limit` sp.ring_shift ops (all with -1) shift by n - s instead
/// of s, so each step brings the chunk (or partial) of the wrong rank. The
/// IR stays valid; only the differential runs can tell. (Reversing a
/// gather's and the following scatter's shifts together permutes rows and
/// then un-permutes them, which row-wise code cannot see: hence `limit`.)
struct ReverseRingShiftsPass
    : public PassWrapper<ReverseRingShiftsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(ReverseRingShiftsPass)
  ReverseRingShiftsPass() = default;
  ReverseRingShiftsPass(const ReverseRingShiftsPass &other)
      : PassWrapper(other) {}
  Option<int64_t> limit{*this, "limit",
                        llvm::cl::desc("How many ring_shift ops to reverse, "
                                       "in IR order (-1: all)"),
                        llvm::cl::init(-1)};
  StringRef getArgument() const final { return "test-sp-reverse-ring-shifts"; }
  StringRef getDescription() const final {
    return "(test only) shift every sp.ring_shift the other way round the "
           "ring: a wrong chunk order for the differential tests";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<arith::ArithDialect>();
  }
  void runOnOperation() override {
    int64_t left = limit;
    getOperation().walk([&](sp::RingShiftOp shift) {
      if (left == 0)
        return;
      --left;
      OpBuilder b(shift);
      int64_t n = *sp::getGroupSizeOf(shift, shift.getGroupAttr());
      Value size = arith::ConstantIndexOp::create(b, shift.getLoc(), n);
      Value reversed =
          arith::SubIOp::create(b, shift.getLoc(), size, shift.getOffset());
      shift.getOffsetMutable().assign(reversed);
    });
  }
};
} // namespace

namespace mlir::sp::test {
void registerTestReverseRingShiftsPass() {
  PassRegistration<ReverseRingShiftsPass>();
}
void registerTestSequenceParallelismCppPass();
void registerTestReverseRingShiftsPass();

void registerSPTestPasses() {
  PassRegistration<SliceFirstRowsPass>();
  PassRegistration<PatternHygieneCheckerPass>();
  registerTestSequenceParallelismCppPass();
  registerTestReverseRingShiftsPass();
}
} // namespace mlir::sp::test
