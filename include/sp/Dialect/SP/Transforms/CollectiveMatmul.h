//===- CollectiveMatmul.h - GEMMs fused with their collectives --*- C++ -*-===//
//
// sp-collective-matmul in pieces (plan, patterns) and the decomposition of
// the fused ops into pipelined loops (sp-decompose-collective-matmul).
//
//===----------------------------------------------------------------------===//

#ifndef SP_DIALECT_SP_TRANSFORMS_COLLECTIVEMATMUL_H
#define SP_DIALECT_SP_TRANSFORMS_COLLECTIVEMATMUL_H

#include "sp/Dialect/SP/IR/SPOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"

#include <string>

namespace mlir::sp {

/// What sp-collective-matmul decided.
struct CollectiveMatmulPlan {
  /// The ops the patterns replace: a linalg.matmul or its scale epilogue
  /// (gather side), or an sp.reduce_scatter (scatter side).
  llvm::DenseSet<Operation *> roots;
  /// Gather-side roots whose fused op also returns the gathered lhs.
  llvm::DenseSet<Operation *> keepGathered;
  /// Why each all_gather / reduce_scatter that is not fused is left alone,
  /// in IR order.
  llvm::MapVector<Operation *, std::string> leftAlone;
  /// Collectives considered (all_gather + reduce_scatter ops).
  int64_t candidates = 0;
};

struct CollectiveMatmulPlanOptions {
  /// Fuse only when every rank's chunk has at least this many rows.
  int64_t minRows = 64;
};

/// Plans the fusions of `module`.
CollectiveMatmulPlan
planCollectiveMatmul(ModuleOp module,
                     const CollectiveMatmulPlanOptions &options);

/// The patterns of CollectiveMatmul.pdll, their native constraints bound to
/// `plan` (which must outlive them).
void populateCollectiveMatmulPatterns(RewritePatternSet &patterns,
                                      CollectiveMatmulPlan &plan);

/// Rewrites `op` into its pipelined loop (see the pass's description).
/// Fails, leaving the IR alone, when the row counts are dynamic.
LogicalResult decomposeAllGatherMatmul(RewriterBase &rewriter,
                                       AllGatherMatmulOp op);
LogicalResult decomposeMatmulReduceScatter(RewriterBase &rewriter,
                                           MatmulReduceScatterOp op);

} // namespace mlir::sp

#endif // SP_DIALECT_SP_TRANSFORMS_COLLECTIVEMATMUL_H
