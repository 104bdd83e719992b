//===- Replication.cpp - which values are the same on every rank ----------===//

#include "sp/Dialect/SP/Transforms/Replication.h"

#include "sp/Dialect/SP/IR/SPDialect.h"
#include "sp/Dialect/SP/IR/SPOps.h"

#include "llvm/ADT/DenseSet.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;
using namespace mlir::sp;

/// Decides `value` from its definition if possible. Returns true when the
/// answer is in the cache; otherwise pushes the operands still to be decided
/// onto `pending` and returns false.
bool ReplicationAnalysis::computeLocally(Value value,
                                         SmallVectorImpl<Value> &pending) {
  if (auto arg = dyn_cast<BlockArgument>(value)) {
    bool replicated = false;
    Block *block = arg.getOwner();
    Operation *parent = block->getParentOp();
    auto function = dyn_cast_or_null<FunctionOpInterface>(parent);
    if (function && block->isEntryBlock() &&
        &function.getFunctionBody() == block->getParent())
      replicated = assumeArguments ||
                   function.getArgAttr(arg.getArgNumber(),
                                       SPDialect::getReplicatedAttrName());
    cache[value] = replicated;
    return true;
  }

  Operation *op = value.getDefiningOp();
  if (isa<AllReduceOp, AllGatherOp>(op) || op->hasTrait<OpTrait::ConstantLike>()) {
    cache[value] = true;
    return true;
  }
  if (isa<ReduceScatterOp, AllSliceOp>(op) || op->getNumRegions() != 0 ||
      !isMemoryEffectFree(op)) {
    cache[value] = false;
    return true;
  }
  bool allKnown = true;
  for (Value operand : op->getOperands()) {
    auto it = cache.find(operand);
    if (it == cache.end()) {
      pending.push_back(operand);
      allKnown = false;
      continue;
    }
    if (!it->second) {
      cache[value] = false;
      return true;
    }
  }
  if (allKnown)
    cache[value] = true;
  return allKnown;
}

bool ReplicationAnalysis::isReplicated(Value value) {
  // Iterative post-order walk: the residual stream of a deep model chains
  // thousands of ops, too deep for recursion.
  // A value met again while its operands are still pending lies on a cycle
  // (possible in graph regions): conservatively not replicated.
  SmallVector<Value> stack{value};
  llvm::DenseSet<Value> inProgress;
  while (!stack.empty()) {
    Value current = stack.back();
    if (cache.count(current)) {
      stack.pop_back();
      continue;
    }
    SmallVector<Value> pending;
    if (computeLocally(current, pending)) {
      stack.pop_back();
      continue;
    }
    if (!inProgress.insert(current).second) {
      cache[current] = false;
      stack.pop_back();
      continue;
    }
    stack.append(pending.begin(), pending.end());
  }
  return cache.lookup(value);
}
