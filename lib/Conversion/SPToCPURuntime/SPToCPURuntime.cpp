//===- SPToCPURuntime.cpp - sp-prepare-cpu-runtime ------------------------===//
//
// The compiler side of runtime/cpu before bufferization: all_slice becomes a
// slice at this rank's offset in its group, group_rank that index, and
// every CPU runtime function and group descriptor the collectives'
// bufferization will use is declared. (The calls themselves are made by the
// BufferizableOpInterface models in
// lib/Dialect/SP/Transforms/BufferizableOpInterfaceImpl.cpp.)
//
//===----------------------------------------------------------------------===//

#include "sp/Conversion/SPToCPURuntime/SPToCPURuntime.h"

#include "sp/Conversion/Common/RuntimeABI.h"
#include "sp/Dialect/SP/IR/SPOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

namespace mlir::sp {
#define GEN_PASS_DEF_SPPREPARECPURUNTIME
#include "sp/Conversion/Passes.h.inc"
} // namespace mlir::sp

using namespace mlir;
using namespace mlir::sp;

static constexpr StringLiteral kRankFunction = "sp_rt_rank";

//===----------------------------------------------------------------------===//
// sp-prepare-cpu-runtime
//===----------------------------------------------------------------------===//

namespace {
struct PrepareCPURuntimePass
    : public sp::impl::SPPrepareCPURuntimeBase<PrepareCPURuntimePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    bool failedAny = false;
    module.walk([&](CollectiveOpInterface op) {
      if (isa<AllSliceOp>(op))
        return;
      std::string name = getCPURuntimeFunctionName(op);
      if (name.empty()) {
        op->emitOpError() << "has no CPU runtime implementation for element "
                             "type "
                          << op.getInput().getType().getElementType()
                          << (op.getReductionKind()
                                  ? " (reductions support f32, f16, bf16, f64)"
                                  : "");
        failedAny = true;
        return;
      }
      declareRuntimeFunction(module, name, getCPURuntimeFunctionType(op),
                             /*cInterface=*/true);
      if (GroupOp group = op.getGroupOp())
        declareGroupDescriptor(group);
    });
    // ring_shift is started and waited for by its bufferization.
    OpBuilder b(&getContext());
    module.walk([&](RingShiftOp shift) {
      std::string name = getCPURingShiftStartName(shift);
      if (name.empty()) {
        shift.emitOpError() << "has no CPU runtime implementation for element "
                               "type "
                            << shift.getInput().getType().getElementType();
        failedAny = true;
        return;
      }
      declareRuntimeFunction(module, name, getCPURingShiftStartType(shift),
                             /*cInterface=*/true);
      declareRuntimeFunction(module, kCPURingShiftWaitName,
                             b.getFunctionType({b.getI64Type()}, {}),
                             /*cInterface=*/false);
      if (GroupOp group = lookupGroup(shift, shift.getGroupAttr()))
        declareGroupDescriptor(group);
    });
    if (failedAny)
      return signalPassFailure();
    // Each collective's call is preceded by the op's location, for the
    // runtime's errors and the rank's post-mortem state.
    bool anyCollective = false;
    module.walk([&](Operation *op) {
      if ((isa<CollectiveOpInterface>(op) && !isa<AllSliceOp>(op)) ||
          isa<RingShiftOp>(op))
        anyCollective = true;
    });
    if (anyCollective) {
      MLIRContext *context = module.getContext();
      declareRuntimeFunction(
          module, kCPUSiteFunctionName,
          FunctionType::get(context,
                            {MemRefType::get({ShapedType::kDynamic},
                                             IntegerType::get(context, 8))},
                            {}),
          /*cInterface=*/true);
    }

    // `sp.replicated` has served its purpose; LLVM would warn about it.
    dropReplicatedArgAttrs(module);

    // all_slice and group_rank need this rank's index in their group.
    SmallVector<Operation *> rankUsers;
    module.walk([&](Operation *op) {
      if (isa<AllSliceOp, GroupRankOp>(op))
        rankUsers.push_back(op);
    });
    if (rankUsers.empty())
      return;
    declareRuntimeFunction(module, kRankFunction,
                           b.getFunctionType({}, {b.getI64Type()}),
                           /*cInterface=*/false);
    for (Operation *op : rankUsers) {
      OpBuilder b(op);
      Value rank = func::CallOp::create(b, op->getLoc(), kRankFunction,
                                        b.getI64Type(), ValueRange{})
                       .getResult(0);
      Value worldRank =
          arith::IndexCastOp::create(b, op->getLoc(), b.getIndexType(), rank);
      FlatSymbolRefAttr groupName =
          isa<AllSliceOp>(op) ? cast<AllSliceOp>(op).getGroupAttr()
                              : cast<GroupRankOp>(op).getGroupAttr();
      Value index = getGroupIndex(b, op->getLoc(), lookupGroup(op, groupName),
                                  worldRank);
      if (auto slice = dyn_cast<AllSliceOp>(op)) {
        lowerAllSliceAtRank(slice, index);
        continue;
      }
      op->getResult(0).replaceAllUsesWith(index);
      op->erase();
    }
  }
};
} // namespace
