//===- SPDialect.cpp - sp dialect -----------------------------------------===//

#include "sp/Dialect/SP/IR/SPDialect.h"
#include "sp/Dialect/SP/IR/SPOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Transforms/InliningUtils.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::sp;

#include "sp/Dialect/SP/IR/SPDialect.cpp.inc"
#include "sp/Dialect/SP/IR/SPEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "sp/Dialect/SP/IR/SPAttrs.cpp.inc"

namespace {
/// sp ops may be inlined (the upstream `inline` pass on a model with one
/// function per layer): inlining moves a collective into its caller, where
/// it runs as often and in the same order as in the callee.
struct SPInlinerInterface : public DialectInlinerInterface {
  using DialectInlinerInterface::DialectInlinerInterface;
  bool isLegalToInline(Operation *call, Operation *callable,
                       bool wouldBeCloned) const final {
    return true;
  }
  bool isLegalToInline(Operation *op, Region *dest, bool wouldBeCloned,
                       IRMapping &mapping) const final {
    return !isa<GroupOp>(op);
  }
};
} // namespace

void SPDialect::initialize() {
  addInterfaces<SPInlinerInterface>();
  addOperations<
#define GET_OP_LIST
#include "sp/Dialect/SP/IR/SPOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "sp/Dialect/SP/IR/SPAttrs.cpp.inc"
      >();
}

LogicalResult SPDialect::verifyRegionArgAttribute(Operation *op,
                                                  unsigned regionIndex,
                                                  unsigned argIndex,
                                                  NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  if (name != getReplicatedAttrName() && name != getReplicatedAxesAttrName())
    return op->emitError() << "unknown sp argument attribute '" << name
                           << "' on argument " << argIndex << " (they are '"
                           << getReplicatedAttrName() << "' and '"
                           << getReplicatedAxesAttrName() << "')";
  if (!isa<FunctionOpInterface>(op))
    return op->emitError() << "'" << name
                           << "' is only meaningful on function arguments";
  if (name == getReplicatedAttrName()) {
    if (!isa<UnitAttr>(attr.getValue()))
      return op->emitError() << "'" << name << "' on argument " << argIndex
                             << " must be a unit attribute, got "
                             << attr.getValue();
    return success();
  }
  auto axes = dyn_cast<DenseI64ArrayAttr>(attr.getValue());
  if (!axes)
    return op->emitError() << "'" << name << "' on argument " << argIndex
                           << " must be an array<i64> of grid axes, got "
                           << attr.getValue();
  llvm::SmallDenseSet<int64_t> seen;
  for (int64_t axis : axes.asArrayRef())
    if (axis < 0 || axis >= 64 || !seen.insert(axis).second)
      return op->emitError() << "'" << name << "' on argument " << argIndex
                             << " lists grid axis " << axis
                             << (axis < 0 || axis >= 64 ? ", out of range"
                                                         : " twice");
  return success();
}

LogicalResult SPDialect::verifyOperationAttribute(Operation *op,
                                                  NamedAttribute attr) {
  // The one discardable operation attribute: the token guard
  // sp-sequence-parallelism puts on the scf.if it versions a function with
  // (TokenGuard.h). Catching typos such as `sp.replicated` on an op early
  // beats ignoring them silently.
  if (attr.getName().getValue() == "sp.token_guard") {
    auto dict = dyn_cast<DictionaryAttr>(attr.getValue());
    auto positive = [&](StringRef name) {
      auto value = dict ? dict.getAs<IntegerAttr>(name) : IntegerAttr();
      return value && value.getInt() >= 1;
    };
    if (op->getName().getStringRef() != "scf.if" || op->getNumRegions() != 2 ||
        !positive("tp") || !positive("tokens") || !dict.get("args") ||
        !isa<DenseI64ArrayAttr>(dict.get("args")))
      return op->emitError()
             << "'sp.token_guard' belongs on an scf.if and is a dictionary "
                "{args = array<i64: ...>, tokens = N, tp = N[, pad]} with "
                "N >= 1, got "
             << attr.getValue();
    return success();
  }
  return op->emitError() << "unknown sp attribute '" << attr.getName().getValue()
                         << "' on an operation ('" << getReplicatedAttrName()
                         << "' belongs on function arguments)";
}

Operation *SPDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                          Type type, Location loc) {
  return arith::ConstantOp::materialize(builder, value, type, loc);
}
