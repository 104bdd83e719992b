//===- SPDialect.cpp - sp dialect -----------------------------------------===//

#include "sp/Dialect/SP/IR/SPDialect.h"
#include "sp/Dialect/SP/IR/SPOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::sp;

#include "sp/Dialect/SP/IR/SPDialect.cpp.inc"
#include "sp/Dialect/SP/IR/SPEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "sp/Dialect/SP/IR/SPAttrs.cpp.inc"

void SPDialect::initialize() {
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
  if (attr.getName() != getReplicatedAttrName())
    return op->emitError() << "unknown sp argument attribute '"
                           << attr.getName().getValue() << "' on argument " << argIndex
                           << " (the only one is '" << getReplicatedAttrName()
                           << "')";
  if (!isa<UnitAttr>(attr.getValue()))
    return op->emitError() << "'" << getReplicatedAttrName()
                           << "' on argument " << argIndex
                           << " must be a unit attribute, got "
                           << attr.getValue();
  if (!isa<FunctionOpInterface>(op))
    return op->emitError() << "'" << getReplicatedAttrName()
                           << "' is only meaningful on function arguments";
  return success();
}

LogicalResult SPDialect::verifyOperationAttribute(Operation *op,
                                                  NamedAttribute attr) {
  // The dialect defines no discardable operation attributes; catching typos
  // such as `sp.replicated` on an op early beats ignoring them silently.
  return op->emitError() << "unknown sp attribute '" << attr.getName().getValue()
                         << "' on an operation ('" << getReplicatedAttrName()
                         << "' belongs on function arguments)";
}
