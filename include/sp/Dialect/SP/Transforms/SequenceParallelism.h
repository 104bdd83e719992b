//===- SequenceParallelism.h - the sequence-parallel rewrite ----*- C++ -*-===//
//
// The pieces of sp-sequence-parallelism, for the pass, its tests and
// clients that drive the rewrite themselves:
//  1. plan: decide on the unmodified IR which all_reduce sites to split and
//     which row-wise ops run on local rows (legality, replication,
//     thresholds, communication budget), with a reason for every site left
//     alone;
//  2. rewrite: apply patterns (the PDLL set by default) that consult the
//     plan, one small step at a time, each leaving a valid and equivalent
//     program.
//
//===----------------------------------------------------------------------===//

#ifndef SP_DIALECT_SP_TRANSFORMS_SEQUENCEPARALLELISM_H
#define SP_DIALECT_SP_TRANSFORMS_SEQUENCEPARALLELISM_H

#include "sp/Dialect/SP/Analysis/CommunicationCost.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Rewrite/FrozenRewritePatternSet.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"

#include <optional>
#include <string>
#include <vector>

namespace mlir::sp {

class DeviceProfile;
class ReplicationAnalysis;

/// What the cost model (cost-model=PROFILE) predicted for one site, in
/// seconds: the all_reduce and the row-wise ops on every row before the
/// rewrite; the reduce_scatter, the gathers the rewrite leaves and the ops
/// on 1/TP of the rows after it.
struct SitePrediction {
  double beforeCollective = 0, beforeLocal = 0;
  double afterReduceScatter = 0, afterGather = 0, afterLocal = 0;
  /// Collective time assumed hidden behind fused GEMMs (already subtracted).
  double hidden = 0;
  int64_t tp = 0, tokens = 0;
  /// The site's location: the report is written after the rewrite has
  /// erased the sites it splits.
  LocationAttr loc;
  double before() const { return beforeCollective + beforeLocal; }
  double after() const { return afterReduceScatter + afterGather + afterLocal; }
  bool pays() const { return after() < before(); }
};

/// A value that crosses a loop or call boundary on local rows (N/TP rows of
/// the token dim) instead of full rows: an scf.for iter_arg, or an argument
/// or result of a private function whose every use is a func.call in the
/// module. The rewrite changes the boundary's type in place in one step:
/// what enters (an scf.for init and what the body yields; what each caller
/// passes; what each return returns) is sliced with sp.all_slice, and what
/// comes out (the iter_arg and the loop result; the entry argument; each
/// call's result) is gathered with sp.all_gather for its users, which the
/// other patterns then sink or fold away. Legal when the boundary value is
/// the same on every rank of the group (the replication analysis): then
/// all_gather(all_slice(x)) == x at every crossing.
struct CarriedBoundary {
  enum class Kind { iterArg, argument, result };
  /// The scf.for or func.func.
  Operation *op = nullptr;
  Kind kind = Kind::iterArg;
  unsigned index = 0;
  FlatSymbolRefAttr group;
  int64_t groupSize = 0;
  /// The full and the local type.
  Type fullType, localType;
  /// Whether the rewrite has changed it yet.
  bool done = false;
  /// Plain words for remarks and the report ("iter_arg #1 of 'scf.for' at
  /// loc", "argument #0 of @decoder_layer").
  std::string what;
  /// Which inputs the rewrite slices and where it gathers (the report).
  std::string how;
  /// Static and executed (per constant trip count / per call) crossings.
  int64_t crossings = 0;
};

/// A boundary the planner tried to carry on local rows and then kept on full
/// rows, with why (the report and a remark).
struct FullRowsBoundary {
  Operation *op = nullptr;
  std::string what, why;
};

/// What the planner decided.
struct SequenceParallelismPlan {
  /// all_reduce ops to split into reduce_scatter + all_gather.
  llvm::DenseSet<Operation *> sites;
  /// Row-wise ops (rms_norm, fused_add_rms_norm, quant) to run on local rows.
  llvm::DenseSet<Operation *> localOps;
  /// Why each all_reduce that is not a site is left alone, in IR order.
  llvm::MapVector<Operation *, std::string> leftAlone;
  /// With a cost model: the prediction for every site it judged (rewritten
  /// or left alone because the rewrite does not pay), in IR order.
  /// Keyed by the site, which the rewrite may erase: read `loc`, not the key.
  llvm::MapVector<Operation *, SitePrediction> predictions;
  /// Loop and call boundaries carried on local rows, in the order the
  /// planner reached them; keyed by (op, 3 * index + kind).
  llvm::MapVector<std::pair<Operation *, unsigned>, CarriedBoundary> carried;
  /// Boundaries kept on full rows although a local value reaches them.
  std::vector<FullRowsBoundary> fullRows;
};

struct SequenceParallelismPlanOptions {
  /// Sites with fewer tokens (rows, dim 0) are left alone.
  int64_t minTokens = 0;
  /// vLLM's threshold for this GPU generation applies too.
  GPUGeneration device = GPUGeneration::none;
  /// When set, a site is split only if the profile predicts it faster
  /// after the rewrite (SitePrediction::pays).
  const DeviceProfile *costModel = nullptr;
  /// A what-if evaluation (the per-range decisions of dynamic=guard): plan
  /// only the sites inside `scope`, and take a dynamic token dim whose rows
  /// come from an argument of the function as this many tokens.
  std::optional<int64_t> assumedTokens;
  Operation *scope = nullptr;
  /// Carry values on local rows across scf.for iter_args and the arguments
  /// and results of private functions (CarriedBoundary).
  bool carry = true;
};

/// Plans the rewrite of `module`: a site is split when it is legal (group >
/// 1, static token dim divisible by the group size and at least the
/// thresholds, a norm user whose weight, residual and scales are
/// replicated) and the rewritten program does not send more bytes per rank
/// (ring model). Sites that fail get a reason.
SequenceParallelismPlan
planSequenceParallelism(ModuleOp module, ReplicationAnalysis &replication,
                        const SequenceParallelismPlanOptions &options);

/// The patterns of SequenceParallelism.pdll, their native constraints bound
/// to `plan` (which must outlive the patterns).
void populateSequenceParallelismPatterns(RewritePatternSet &patterns,
                                         SequenceParallelismPlan &plan);

/// Pattern 2d (any planned row-wise op), shared by the PDLL pattern and its
/// C++ twin: whether `op` runs on local rows by the plan and one of its
/// row-aligned operands is an all_gather along dim 0, and the rewrite
/// op(all_gather(x), ...) -> all_gather(op(x, ...)).
bool canSinkGatherThrough(const SequenceParallelismPlan &plan, Operation *op);
void sinkGatherThroughRowWiseOp(RewriterBase &rewriter, Operation *op);

/// all_slice(tensor.empty) and all_slice(linalg.fill) -> smaller ones (the
/// inits of sunk linalg ops); populateSequenceParallelismPatterns adds them.
void populateSliceShrinkingPatterns(RewritePatternSet &patterns);

/// The step that moves one planned boundary to local rows (CarriedBoundary),
/// shared by the pattern and tests.
void carryOnLocalRows(RewriterBase &rewriter, CarriedBoundary &boundary);

/// The pattern that applies that step to each of `plan`'s carried
/// boundaries (scf.for and func.func roots; one boundary per application).
/// populateSequenceParallelismPatterns adds it; a client with its own
/// patterns for the sites adds it too.
void populateCarryPatterns(RewritePatternSet &patterns,
                           SequenceParallelismPlan &plan);

struct PlannedRewriteOptions {
  /// Stop after this many pattern applications (-1: no limit).
  int64_t maxRewrites = -1;
  /// Apply with a driver that verifies the IR after every rewrite and
  /// checks that failing patterns leave it unchanged.
  bool checkPatterns = false;
};

/// Applies `patterns` (which consult `plan`) to the sp ops of `module`,
/// then folds the no-op slices; erased ops leave the plan, so the sites
/// still in it afterwards were not reached. Reports a located error and
/// fails when the patterns misbehave or do not converge.
LogicalResult applyPlannedRewrites(ModuleOp module,
                                   SequenceParallelismPlan &plan,
                                   const FrozenRewritePatternSet &patterns,
                                   const PlannedRewriteOptions &options);

} // namespace mlir::sp

#endif // SP_DIALECT_SP_TRANSFORMS_SEQUENCEPARALLELISM_H
