//===- SPOps.h - sp dialect operations --------------------------*- C++ -*-===//

#ifndef SP_DIALECT_SP_IR_SPOPS_H
#define SP_DIALECT_SP_IR_SPOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "sp/Dialect/SP/IR/SPDialect.h"

#include "sp/Dialect/SP/IR/SPEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "sp/Dialect/SP/IR/SPAttrs.h.inc"

namespace mlir::sp {
class GroupOp;
class CollectiveOpInterface;

/// Looks up the sp.group named by `group` from `from`; null if there is none.
GroupOp lookupGroup(Operation *from, FlatSymbolRefAttr group);

/// The size of the sp.group named by `group` from `from`, or std::nullopt
/// when it does not resolve.
std::optional<int64_t> getGroupSizeOf(Operation *from, FlatSymbolRefAttr group);

/// Verifiers shared by the collectives (ODS calls them): the group resolves
/// and its size agrees with the shapes; `dim` is in range and only `dim`
/// changes size.
LogicalResult verifyCollectiveSymbolUses(CollectiveOpInterface collective,
                                         SymbolTableCollection &tables);
LogicalResult verifyResizeAlongDim(CollectiveOpInterface collective);
} // namespace mlir::sp

#include "sp/Dialect/SP/IR/SPInterfaces.h.inc"

#define GET_OP_CLASSES
#include "sp/Dialect/SP/IR/SPOps.h.inc"

namespace mlir::sp {

/// The size of the group `op` (a collective) communicates over, or
/// std::nullopt when `op` is not a collective or its group does not resolve.
std::optional<int64_t> getGroupSize(Operation *op);

} // namespace mlir::sp

#endif // SP_DIALECT_SP_IR_SPOPS_H
