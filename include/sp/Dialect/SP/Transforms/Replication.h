//===- Replication.h - which values are the same on every rank -*- C++ -*-===//
//
// A value may only be split by rows with sp.all_slice (or feed a norm whose
// rows are computed on another rank) when every rank holds the same value.
// This analysis proves it from the structure of the program:
//   * results of sp.all_reduce and sp.all_gather,
//   * constants (ConstantLike ops),
//   * function arguments marked `sp.replicated` (or every function argument
//     when `assumeArguments` is set, vLLM's trust model),
//   * results of side-effect-free, region-free ops whose operands are all
//     replicated, except sp.reduce_scatter and sp.all_slice, whose results
//     depend on the rank.
// Everything else (block arguments of inner blocks, ops with effects or
// regions) is conservatively not replicated.
//
//===----------------------------------------------------------------------===//

#ifndef SP_DIALECT_SP_TRANSFORMS_REPLICATION_H
#define SP_DIALECT_SP_TRANSFORMS_REPLICATION_H

#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"

namespace mlir::sp {

class ReplicationAnalysis {
public:
  explicit ReplicationAnalysis(bool assumeArguments = false)
      : assumeArguments(assumeArguments) {}

  /// True if `value` is provably identical on every rank.
  bool isReplicated(Value value);

  /// Forget cached answers (call after the IR changed).
  void invalidate() { cache.clear(); }

private:
  bool computeLocally(Value value, SmallVectorImpl<Value> &pending);

  bool assumeArguments;
  llvm::DenseMap<Value, bool> cache;
};

} // namespace mlir::sp

#endif // SP_DIALECT_SP_TRANSFORMS_REPLICATION_H
