//===- Replication.h - which values are the same on which ranks -*- C++ -*-===//
//
// A value may only be split by rows with sp.all_slice (or feed a norm whose
// rows are computed on another rank) when every rank of the group holds the
// same value. This analysis proves it from the structure of the program,
// as the set of grid axes along which a value does not vary (all of them:
// the same on every rank):
//   * constants (ConstantLike ops): every axis;
//   * function arguments marked `sp.replicated` (or every function argument
//     when `assumeArguments` is set, vLLM's trust model): every axis; marked
//     `sp.replicated_axes = array<i64: ...>`: those axes;
//   * sp.all_reduce, sp.all_gather and the gathered result of
//     sp.all_gather_matmul: their input's axes plus the group's;
//   * sp.reduce_scatter, sp.all_slice, sp.ring_shift,
//     sp.matmul_reduce_scatter: their input's axes minus the group's;
//     sp.group_rank: every axis but the group's; the product of
//     sp.all_gather_matmul: the gathered lhs's axes and the rhs's (a weight
//     shard has none);
//   * other side-effect-free ops: the axes common to their operands and to
//     the values their regions take from above (a linalg.generic's captured
//     constants); none if a region holds a collective or sp.group_rank.
// Everything else (ops with effects, arguments of blocks reached by cf
// branches, results of calls to external functions) varies. A group
// without a layout spans every axis.
//
// The facts flow through control flow and calls as a sparse dataflow
// analysis (ReplicationDataFlow.h): a block argument of scf.for / scf.while
// / scf.if regions and an op result of those ops is the intersection of
// what flows into it (loop-carried values: the fixpoint over iterations),
// further intersected with the axes of the op's control operands (a
// condition or bounds that vary make the results vary); the arguments of a
// function whose callers are all known (a private function) are what its
// call sites pass, its call results what it returns. A function nobody
// calls is analyzed as if called from outside (its argument attributes);
// a value in code that never runs within a live function (a branch on a
// constant) is not replicated.
//
//===----------------------------------------------------------------------===//

#ifndef SP_DIALECT_SP_ANALYSIS_REPLICATION_H
#define SP_DIALECT_SP_ANALYSIS_REPLICATION_H

#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"

#include <cstdint>
#include <memory>

namespace mlir {
class DataFlowSolver;
} // namespace mlir

namespace mlir::sp {

class GroupOp;
struct ReplicationGrid;

class ReplicationAnalysis {
public:
  explicit ReplicationAnalysis(bool assumeArguments = false);
  ~ReplicationAnalysis();

  /// True if `value` is provably identical on every rank. The first
  /// question runs the analysis on the whole op tree `value` lives in (its
  /// module); later ones read the results: ask about one unchanging IR.
  bool isReplicated(Value value);

  /// True if `value` is provably identical on the ranks of each instance of
  /// `group`: every rank for a group without a layout; the ranks whose grid
  /// coordinates differ only along the group's axes for one with a layout
  /// (under DP x TP, activations split over dp are the same within each tp
  /// group).
  bool isReplicatedWithin(Value value, GroupOp group);

private:
  /// Bit i set: `value` does not vary along grid axis i (all bits: the same
  /// on every rank). 0 for values the analysis never reached.
  uint64_t invariantAxes(Value value);
  /// Runs the analysis on `top` (nullptr if it failed).
  std::unique_ptr<DataFlowSolver> solve(Operation *top);

  bool assumeArguments;
  /// The op tree the solver ran on (nullptr before the first question).
  Operation *root = nullptr;
  std::unique_ptr<ReplicationGrid> grid;
  std::unique_ptr<DataFlowSolver> solver;
  /// Functions the module never calls, each analyzed on its own.
  llvm::DenseMap<Operation *, std::unique_ptr<DataFlowSolver>> functionSolvers;
};

} // namespace mlir::sp

#endif // SP_DIALECT_SP_ANALYSIS_REPLICATION_H
