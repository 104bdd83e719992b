//===- TestPasses.cpp - passes that exist to test sp ----------------------===//

#include "sp/Dialect/SP/IR/SPOps.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
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
} // namespace

namespace mlir::sp::test {
void registerSPTestPasses() { PassRegistration<SliceFirstRowsPass>(); }
} // namespace mlir::sp::test
