//===- PatternHygiene.cpp - a pattern driver that checks patterns ---------===//

#include "sp/Dialect/SP/Transforms/PatternHygiene.h"

#include "mlir/IR/OperationSupport.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Rewrite/PatternApplicator.h"
#include "llvm/ADT/DenseSet.h"

using namespace mlir;

namespace {
/// Records erased ops (so the sweep skips them) and forwards every
/// notification to the caller's listener.
struct ErasureTracker : public RewriterBase::ForwardingListener {
  explicit ErasureTracker(OpBuilder::Listener *forwardTo)
      : ForwardingListener(forwardTo) {}
  void notifyOperationErased(Operation *op) override {
    erased.insert(op);
    ForwardingListener::notifyOperationErased(op);
  }
  llvm::DenseSet<Operation *> erased;
};

struct HygieneRewriter : public PatternRewriter {
  explicit HygieneRewriter(MLIRContext *context) : PatternRewriter(context) {}
};

std::string describe(const Pattern &pattern) {
  std::string name = pattern.getDebugName().str();
  if (!name.empty())
    return "'" + name + "'";
  if (std::optional<OperationName> root = pattern.getRootKind())
    return "on '" + root->getStringRef().str() + "'";
  return "<unnamed>";
}
} // namespace

LogicalResult mlir::sp::applyPatternsWithHygieneChecks(
    Operation *root, const FrozenRewritePatternSet &patterns,
    llvm::function_ref<bool(Operation *)> filter,
    RewriterBase::Listener *listener, int64_t maxRewrites,
    std::string &problem) {
  PatternApplicator applicator(patterns);
  applicator.applyDefaultCostModel();
  ErasureTracker tracker(listener);
  HygieneRewriter rewriter(root->getContext());
  rewriter.setListener(&tracker);
  int64_t rewrites = 0;
  for (bool changed = true; changed;) {
    changed = false;
    SmallVector<Operation *> ops;
    root->walk([&](Operation *op) {
      if (op != root && filter(op))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      if (tracker.erased.contains(op))
        continue;
      if (maxRewrites >= 0 && rewrites >= maxRewrites)
        return success();
      rewriter.setInsertionPoint(op);
      OperationFingerPrint before(root);
      LogicalResult result = applicator.matchAndRewrite(
          op, rewriter, /*canApply=*/{},
          /*onFailure=*/
          [&](const Pattern &pattern) {
            if (problem.empty() && OperationFingerPrint(root) != before)
              problem = "pattern " + describe(pattern) +
                        " returned failure but changed the IR";
          },
          /*onSuccess=*/
          [&](const Pattern &pattern) {
            if (problem.empty() && failed(verify(root)))
              problem = "the IR does not verify after pattern " +
                        describe(pattern);
            return success();
          });
      if (!problem.empty())
        return failure();
      if (succeeded(result)) {
        changed = true;
        ++rewrites;
      }
    }
  }
  return success();
}
