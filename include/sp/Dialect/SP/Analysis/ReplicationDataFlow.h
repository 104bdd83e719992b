//===- ReplicationDataFlow.h - replication as a sparse dataflow -*- C++ -*-===//
//
// The replication analysis as a sparse forward analysis of MLIR's dataflow
// framework (mlir/Analysis/DataFlow), so that it sees through region control
// flow (scf.for, scf.while, scf.if, scf.index_switch: loop-carried values
// reach a fixpoint) and through calls (interprocedural, along the call graph
// the framework builds from the dead-code analysis).
//
// Lattice: per SSA value, the set of grid axes along which the value does
// not vary (all bits: identical on every rank), or "unknown" (not reached
// yet: the optimistic start of the fixpoint). The join of two facts is the
// intersection of their axes: a value that may come from either is the same
// only along the axes both are the same along.
//
// Control dependence: a region branch op whose choice of region, trip count
// or exit depends on a value that varies (an scf.if condition, scf.for
// bounds, an scf.while's scf.condition, a switch's index) yields values that
// vary along those axes even when every yielded value is replicated: the
// results and region arguments of the op are intersected with the axes of
// its control operands. Unstructured control flow (cf.br / cf.cond_br block
// arguments) is not modelled: arguments of non-entry blocks vary.
//
// Use ReplicationAnalysis (Replication.h) to ask questions; this header is
// for loading the analysis into a solver of one's own.
//
//===----------------------------------------------------------------------===//

#ifndef SP_DIALECT_SP_ANALYSIS_REPLICATIONDATAFLOW_H
#define SP_DIALECT_SP_ANALYSIS_REPLICATIONDATAFLOW_H

#include "mlir/Analysis/DataFlow/SparseAnalysis.h"
#include "mlir/IR/BuiltinAttributes.h"

#include <cstdint>
#include <optional>

namespace mlir::sp {

/// The axes along which a value is the same on every rank, or unknown.
class ReplicationState {
public:
  static constexpr uint64_t kEverywhere = ~uint64_t(0);

  /// Unknown: not reached yet.
  ReplicationState() = default;
  explicit ReplicationState(uint64_t invariantAxes) : axes(invariantAxes) {}

  bool isUninitialized() const { return !axes.has_value(); }
  /// The invariant axes (requires an initialized state).
  uint64_t getAxes() const { return *axes; }

  static ReplicationState join(const ReplicationState &lhs,
                               const ReplicationState &rhs) {
    if (lhs.isUninitialized())
      return rhs;
    if (rhs.isUninitialized())
      return lhs;
    return ReplicationState(*lhs.axes & *rhs.axes);
  }

  bool operator==(const ReplicationState &rhs) const {
    return axes == rhs.axes;
  }
  void print(raw_ostream &os) const;

private:
  std::optional<uint64_t> axes;
};

class ReplicationLattice : public dataflow::Lattice<ReplicationState> {
public:
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(ReplicationLattice)
  using Lattice::Lattice;
};

/// How the analysis reads the module's groups.
struct ReplicationGrid {
  /// Computes the module's common grid from its layout groups.
  static ReplicationGrid of(Operation *module);

  /// The grid axes `group` spans as a mask (all bits for a group of every
  /// rank). With inconsistent grids in one module, a layout group spans
  /// nothing when it makes values the same (`gaining`) and everything when
  /// it makes them vary: the conservative choice either way.
  uint64_t axesOf(Operation *from, FlatSymbolRefAttr group,
                  bool gaining) const;
  /// True if `mask` means the same on every rank.
  bool isFull(uint64_t mask) const;

  bool consistent = true;
  /// The mask of every axis of the module's grid (0: no layout groups).
  uint64_t allAxes = 0;
};

/// The sparse forward analysis. Needs dataflow::DeadCodeAnalysis (and
/// dataflow::SparseConstantPropagation for branches on constants) loaded in
/// the same solver.
class ReplicationDataFlowAnalysis
    : public dataflow::SparseForwardDataFlowAnalysis<ReplicationLattice> {
public:
  /// `assumeArguments`: every argument of a function whose callers are not
  /// all known is replicated (vLLM's trust model); otherwise only those
  /// marked `sp.replicated` / `sp.replicated_axes`.
  ReplicationDataFlowAnalysis(DataFlowSolver &solver, ReplicationGrid grid,
                              bool assumeArguments);

  LogicalResult initialize(Operation *top) override;

  LogicalResult visitOperation(Operation *op,
                               ArrayRef<const ReplicationLattice *> operands,
                               ArrayRef<ReplicationLattice *> results) override;

  void setToEntryState(ReplicationLattice *lattice) override;

protected:
  void visitCallableOperation(
      CallableOpInterface callable,
      ArrayRef<dataflow::AbstractSparseLattice *> argLattices) override;

private:
  void visitRegionSuccessors(
      ProgramPoint *point, RegionBranchOpInterface branch,
      RegionSuccessor successor,
      ArrayRef<dataflow::AbstractSparseLattice *> lattices) override;

  /// The axes a function argument is declared (or assumed) replicated along.
  uint64_t declaredAxes(BlockArgument argument, bool assume) const;
  /// The axes along which `branch`'s choice of successor is the same: the
  /// intersection over its operands and its terminators' operands that are
  /// not forwarded to a successor. Nullopt while one is still unknown.
  std::optional<uint64_t> controlAxes(ProgramPoint *point,
                                      RegionBranchOpInterface branch);
  /// Sets `lattice` to `axes` (joined into what it holds).
  void joinAxes(dataflow::AbstractSparseLattice *lattice, uint64_t axes);

  ReplicationGrid grid;
  bool assumeArguments;
};

} // namespace mlir::sp

#endif // SP_DIALECT_SP_ANALYSIS_REPLICATIONDATAFLOW_H
