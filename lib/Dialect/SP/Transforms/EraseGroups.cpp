//===- EraseGroups.cpp - sp-erase-groups ----------------------------------===//

#include "sp/Dialect/SP/Transforms/Passes.h"

#include "sp/Dialect/SP/IR/SPOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::sp {
#define GEN_PASS_DEF_SPERASEGROUPS
#include "sp/Dialect/SP/Transforms/Passes.h.inc"
} // namespace mlir::sp

using namespace mlir;
using namespace mlir::sp;

namespace {
struct EraseGroupsPass
    : public sp::impl::SPEraseGroupsBase<EraseGroupsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (GroupOp group : llvm::make_early_inc_range(module.getOps<GroupOp>())) {
      std::optional<SymbolTable::UseRange> uses =
          SymbolTable::getSymbolUses(group, module);
      if (uses && !uses->empty()) {
        uses->begin()->getUser()->emitOpError()
            << "still refers to group @" << group.getSymName()
            << " after lowering";
        return signalPassFailure();
      }
      group.erase();
    }
  }
};
} // namespace
