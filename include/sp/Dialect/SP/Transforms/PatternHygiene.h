//===- PatternHygiene.h - a pattern driver that checks patterns -*- C++ -*-===//
//
// What upstream's MLIR_ENABLE_EXPENSIVE_PATTERN_API_CHECKS does, available in
// release builds of MLIR (Debian's has it off): after every successful
// rewrite the IR must verify, and a pattern that returns failure must leave
// the IR exactly as it was (compared by OperationFingerPrint).
//
//===----------------------------------------------------------------------===//

#ifndef SP_DIALECT_SP_TRANSFORMS_PATTERNHYGIENE_H
#define SP_DIALECT_SP_TRANSFORMS_PATTERNHYGIENE_H

#include "mlir/IR/PatternMatch.h"
#include "mlir/Rewrite/FrozenRewritePatternSet.h"
#include "llvm/ADT/STLFunctionalExtras.h"

#include <string>

namespace mlir::sp {

/// Sweeps the ops under `root` accepted by `filter`, letting every pattern try
/// each one, until a sweep changes nothing (or `maxRewrites` rewrites, if >=
/// 0). `listener`, if any, sees every change. On a hygiene violation returns
/// failure and describes it in `problem`.
LogicalResult applyPatternsWithHygieneChecks(
    Operation *root, const FrozenRewritePatternSet &patterns,
    llvm::function_ref<bool(Operation *)> filter,
    RewriterBase::Listener *listener, int64_t maxRewrites,
    std::string &problem);

} // namespace mlir::sp

#endif // SP_DIALECT_SP_TRANSFORMS_PATTERNHYGIENE_H
