//===- Replication.cpp - which values are the same on which ranks ---------===//

#include "sp/Dialect/SP/Analysis/Replication.h"
#include "sp/Dialect/SP/Analysis/ReplicationDataFlow.h"

#include "sp/Dialect/SP/IR/SPDialect.h"
#include "sp/Dialect/SP/IR/SPOps.h"

#include "mlir/Analysis/DataFlow/ConstantPropagationAnalysis.h"
#include "mlir/Analysis/DataFlow/DeadCodeAnalysis.h"
#include "mlir/Analysis/DataFlowFramework.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/CallInterfaces.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallBitVector.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mlir::sp;
using dataflow::AbstractSparseLattice;

static constexpr uint64_t kEverywhere = ReplicationState::kEverywhere;

void ReplicationState::print(raw_ostream &os) const {
  if (isUninitialized())
    os << "<unknown>";
  else if (*axes == kEverywhere)
    os << "replicated";
  else
    os << "invariant axes 0x" << llvm::utohexstr(*axes);
}

//===----------------------------------------------------------------------===//
// ReplicationGrid
//===----------------------------------------------------------------------===//

ReplicationGrid ReplicationGrid::of(Operation *root) {
  ReplicationGrid result;
  auto module = dyn_cast<ModuleOp>(root);
  if (!module)
    module = root->getParentOfType<ModuleOp>();
  if (!module)
    return result;
  // The layout groups' common grid; with several grids, axes mean nothing
  // across them and every layout group counts as spanning everything when it
  // makes a value vary, nothing when it makes one the same.
  std::optional<SmallVector<int64_t>> shape;
  for (GroupOp group : module.getOps<GroupOp>()) {
    std::optional<ArrayRef<int64_t>> grid = group.getGrid();
    if (!grid)
      continue;
    if (shape && ArrayRef<int64_t>(*shape) != *grid) {
      result.consistent = false;
      return result;
    }
    shape = SmallVector<int64_t>(*grid);
  }
  if (shape && shape->size() < 64)
    result.allAxes = (uint64_t(1) << shape->size()) - 1;
  return result;
}

uint64_t ReplicationGrid::axesOf(Operation *from, FlatSymbolRefAttr symbol,
                                 bool gaining) const {
  GroupOp group = lookupGroup(from, symbol);
  if (!group)
    return gaining ? 0 : kEverywhere;
  std::optional<ArrayRef<int64_t>> axes = group.getAxes();
  if (!axes)
    return kEverywhere; // every rank of the job
  if (!consistent)
    return gaining ? 0 : kEverywhere;
  uint64_t mask = 0;
  for (int64_t axis : *axes)
    mask |= uint64_t(1) << axis;
  return mask;
}

bool ReplicationGrid::isFull(uint64_t mask) const {
  return mask == kEverywhere || (allAxes != 0 && (mask & allAxes) == allAxes);
}

//===----------------------------------------------------------------------===//
// ReplicationDataFlowAnalysis
//===----------------------------------------------------------------------===//

/// Ops whose results vary along their group's axes whatever their operands.
static bool isRankDependent(Operation *op) {
  return isa<ReduceScatterOp, AllSliceOp, AllGatherMatmulOp,
             MatmulReduceScatterOp, RingShiftOp, GroupRankOp>(op);
}

ReplicationDataFlowAnalysis::ReplicationDataFlowAnalysis(DataFlowSolver &solver,
                                                         ReplicationGrid grid,
                                                         bool assumeArguments)
    : SparseForwardDataFlowAnalysis(solver), grid(grid),
      assumeArguments(assumeArguments) {}

LogicalResult ReplicationDataFlowAnalysis::initialize(Operation *top) {
  if (failed(SparseForwardDataFlowAnalysis::initialize(top)))
    return failure();
  // Unstructured control flow: which predecessor a block is entered from
  // may differ by rank, so its arguments vary whatever the branches pass.
  // Pinned here, before the fixpoint; joins can only keep them varying.
  top->walk([&](Block *block) {
    if (!block->isEntryBlock())
      for (BlockArgument argument : block->getArguments())
        joinAxes(getLatticeElement(argument), 0);
  });
  return success();
}

void ReplicationDataFlowAnalysis::joinAxes(AbstractSparseLattice *lattice,
                                           uint64_t axes) {
  auto *replication = static_cast<ReplicationLattice *>(lattice);
  propagateIfChanged(replication, replication->join(ReplicationState(axes)));
}

uint64_t ReplicationDataFlowAnalysis::declaredAxes(BlockArgument argument,
                                                   bool assume) const {
  Block *block = argument.getOwner();
  auto function = dyn_cast_or_null<FunctionOpInterface>(block->getParentOp());
  if (!function || !block->isEntryBlock() ||
      &function.getFunctionBody() != block->getParent())
    return 0;
  unsigned index = argument.getArgNumber();
  if (assume || function.getArgAttr(index, SPDialect::getReplicatedAttrName()))
    return kEverywhere;
  uint64_t mask = 0;
  if (auto axes = function.getArgAttrOfType<DenseI64ArrayAttr>(
          index, SPDialect::getReplicatedAxesAttrName()))
    for (int64_t axis : axes.asArrayRef())
      if (axis >= 0 && axis < 64)
        mask |= uint64_t(1) << axis;
  return mask;
}

void ReplicationDataFlowAnalysis::setToEntryState(
    ReplicationLattice *lattice) {
  // Arguments of a function entered from unknown callers: what they are
  // declared; anything else the framework cannot follow varies.
  uint64_t axes = 0;
  if (auto argument = dyn_cast<BlockArgument>(lattice->getAnchor()))
    axes = declaredAxes(argument, assumeArguments);
  joinAxes(lattice, axes);
}

void ReplicationDataFlowAnalysis::visitCallableOperation(
    CallableOpInterface callable, ArrayRef<AbstractSparseLattice *> lattices) {
  Block *entry = &callable.getCallableRegion()->front();
  const auto *callers = getOrCreateFor<dataflow::PredecessorState>(
      getProgramPointBefore(entry), getProgramPointAfter(callable));
  if (!callers->allPredecessorsKnown() ||
      !getSolverConfig().isInterprocedural()) {
    for (AbstractSparseLattice *lattice : lattices)
      setToEntryState(static_cast<ReplicationLattice *>(lattice));
    return;
  }
  // Known callers: what they pass (intersected over the call sites), plus
  // what the argument is declared to be (the user's word, as for entries).
  for (auto [index, lattice] : llvm::enumerate(lattices)) {
    std::optional<uint64_t> passed;
    for (Operation *caller : callers->getKnownPredecessors()) {
      auto call = cast<CallOpInterface>(caller);
      if (index >= call.getArgOperands().size())
        continue;
      const ReplicationLattice *operand = getLatticeElementFor(
          getProgramPointBefore(entry), call.getArgOperands()[index]);
      if (operand->getValue().isUninitialized())
        continue;
      passed = passed.value_or(kEverywhere) & operand->getValue().getAxes();
    }
    if (!passed)
      continue;
    auto argument = cast<BlockArgument>(
        static_cast<ReplicationLattice *>(lattice)->getAnchor());
    joinAxes(lattice, *passed | declaredAxes(argument, /*assume=*/false));
  }
}

std::optional<uint64_t>
ReplicationDataFlowAnalysis::controlAxes(ProgramPoint *point,
                                         RegionBranchOpInterface branch) {
  llvm::SmallPtrSet<Value, 8> forwarded;
  SmallVector<RegionSuccessor> entries;
  branch.getEntrySuccessorRegions(
      SmallVector<Attribute>(branch->getNumOperands(), Attribute()), entries);
  for (const RegionSuccessor &successor : entries)
    for (Value operand : branch.getEntrySuccessorOperands(successor))
      forwarded.insert(operand);
  SmallVector<Value> control;
  for (Value operand : branch->getOperands())
    if (!forwarded.contains(operand))
      control.push_back(operand);
  // The terminators' own choices: an scf.condition's condition.
  RegionSuccessor parent(branch, branch->getResults());
  for (Region &region : branch->getRegions())
    for (Block &block : region) {
      if (!block.mightHaveTerminator())
        continue;
      auto terminator =
          dyn_cast<RegionBranchTerminatorOpInterface>(block.getTerminator());
      if (!terminator)
        continue;
      llvm::SmallPtrSet<Value, 8> passed;
      for (Value operand : terminator.getSuccessorOperands(parent))
        passed.insert(operand);
      for (Value operand : terminator->getOperands())
        if (!passed.contains(operand))
          control.push_back(operand);
    }
  uint64_t axes = kEverywhere;
  for (Value value : control) {
    const ReplicationLattice *lattice = getLatticeElementFor(point, value);
    if (lattice->getValue().isUninitialized())
      return std::nullopt;
    axes &= lattice->getValue().getAxes();
  }
  return axes;
}

void ReplicationDataFlowAnalysis::visitRegionSuccessors(
    ProgramPoint *point, RegionBranchOpInterface branch,
    RegionSuccessor successor, ArrayRef<AbstractSparseLattice *> lattices) {
  const auto *predecessors =
      getOrCreateFor<dataflow::PredecessorState>(point, point);
  assert(predecessors->allPredecessorsKnown() &&
         "unexpected unresolved region successors");

  // The values that flow in from the op's operands or from the yields of
  // its regions.
  llvm::SmallBitVector reached(lattices.size());
  bool anyPredecessor = false;
  for (Operation *op : predecessors->getKnownPredecessors()) {
    std::optional<OperandRange> operands;
    if (op == branch)
      operands = branch.getEntrySuccessorOperands(successor);
    else if (auto terminator = dyn_cast<RegionBranchTerminatorOpInterface>(op))
      operands = terminator.getSuccessorOperands(successor);
    if (!operands) {
      for (AbstractSparseLattice *lattice : lattices)
        joinAxes(lattice, 0);
      return;
    }
    anyPredecessor = true;
    ValueRange inputs = predecessors->getSuccessorInputs(op);
    assert(inputs.size() == operands->size() &&
           "expected the same number of successor inputs as operands");
    unsigned first = 0;
    if (!inputs.empty()) {
      if (auto result = dyn_cast<OpResult>(inputs.front()))
        first = result.getResultNumber();
      else
        first = cast<BlockArgument>(inputs.front()).getArgNumber();
    }
    for (auto [index, operand] : llvm::enumerate(*operands)) {
      join(lattices[first + index], *getLatticeElementFor(point, operand));
      reached.set(first + index);
    }
  }

  // Nothing flows in yet (the regions are not known to run): wait.
  if (!anyPredecessor)
    return;
  // Neither result nor argument can be the same where the op's choice of
  // region, trip count or exit differs.
  std::optional<uint64_t> control = controlAxes(point, branch);
  if (!control)
    return;
  // Values that do not flow from anywhere: a loop's induction variables
  // follow from the bounds (the control operands); others vary.
  llvm::SmallPtrSet<Value, 2> inductionVars;
  if (auto loop = dyn_cast<LoopLikeOpInterface>(branch.getOperation()))
    if (std::optional<SmallVector<Value>> ivs = loop.getLoopInductionVars())
      inductionVars.insert(ivs->begin(), ivs->end());
  for (auto [index, lattice] : llvm::enumerate(lattices)) {
    Value anchor = static_cast<ReplicationLattice *>(lattice)->getAnchor();
    if (!reached.test(index) && !inductionVars.contains(anchor))
      joinAxes(lattice, 0);
    else
      joinAxes(lattice, *control);
  }
}

LogicalResult ReplicationDataFlowAnalysis::visitOperation(
    Operation *op, ArrayRef<const ReplicationLattice *> operands,
    ArrayRef<ReplicationLattice *> results) {
  auto setAll = [&](uint64_t axes) {
    for (ReplicationLattice *result : results)
      joinAxes(result, axes);
    return success();
  };
  if (op->hasTrait<OpTrait::ConstantLike>())
    return setAll(kEverywhere);
  if (!isMemoryEffectFree(op))
    return setAll(0);
  if (auto group = dyn_cast<GroupRankOp>(op))
    // The same for ranks that differ only along the other axes.
    return setAll(~grid.axesOf(op, group.getGroupAttr(), /*gaining=*/false));

  // The axes of each operand; an op with regions (a linalg op on tensors,
  // say) also computes from the values its body takes from above, and
  // nothing inside may depend on the rank.
  SmallVector<const ReplicationLattice *> inputs(operands);
  if (op->getNumRegions() != 0) {
    bool rankDependent = false;
    llvm::SetVector<Value> captured;
    op->walk([&](Operation *nested) {
      if (nested == op)
        return;
      rankDependent |= isRankDependent(nested);
      for (Value operand : nested->getOperands())
        if (!op->isAncestor(operand.getParentRegion()->getParentOp()))
          captured.insert(operand);
    });
    if (rankDependent)
      return setAll(0);
    for (Value value : captured)
      inputs.push_back(getLatticeElementFor(getProgramPointAfter(op), value));
  }
  uint64_t mask = kEverywhere;
  for (const ReplicationLattice *input : inputs) {
    // Not reached yet: wait (the framework visits the op again).
    if (input->getValue().isUninitialized())
      return success();
    mask &= input->getValue().getAxes();
  }
  auto axesOfOperand = [&](unsigned index) {
    return operands[index]->getValue().getAxes();
  };

  // Collectives make values the same along their group's axes (all-reduce,
  // all-gather: every rank of a group ends with the same value) or vary
  // along them (reduce-scatter, slices, shifts: each rank its own part).
  // The fused GEMMs multiply by the rhs (a weight shard: its own mask).
  if (auto collective = dyn_cast<CollectiveOpInterface>(op)) {
    FlatSymbolRefAttr group = collective.getGroupAttr();
    if (isa<AllReduceOp, AllGatherOp>(op))
      mask |= grid.axesOf(op, group, /*gaining=*/true);
    else
      mask &= ~grid.axesOf(op, group, /*gaining=*/false);
    return setAll(mask);
  }
  if (auto gatherMatmul = dyn_cast<AllGatherMatmulOp>(op)) {
    uint64_t gathered = axesOfOperand(0) |
                        grid.axesOf(op, gatherMatmul.getGroupAttr(), true);
    uint64_t product = gathered;
    for (unsigned index = 1; index < op->getNumOperands(); ++index)
      product &= axesOfOperand(index);
    for (auto [result, lattice] : llvm::zip(op->getResults(), results))
      joinAxes(lattice, result == gatherMatmul.getGathered() ? gathered
                                                             : product);
    return success();
  }
  if (auto scatterMatmul = dyn_cast<MatmulReduceScatterOp>(op))
    mask &= ~grid.axesOf(op, scatterMatmul.getGroupAttr(), false);
  else if (auto shift = dyn_cast<RingShiftOp>(op))
    mask &= ~grid.axesOf(op, shift.getGroupAttr(), false);
  return setAll(mask);
}

//===----------------------------------------------------------------------===//
// ReplicationAnalysis
//===----------------------------------------------------------------------===//

ReplicationAnalysis::ReplicationAnalysis(bool assumeArguments)
    : assumeArguments(assumeArguments) {}

ReplicationAnalysis::~ReplicationAnalysis() = default;

std::unique_ptr<DataFlowSolver> ReplicationAnalysis::solve(Operation *top) {
  auto solver = std::make_unique<DataFlowSolver>();
  solver->load<dataflow::DeadCodeAnalysis>();
  solver->load<dataflow::SparseConstantPropagation>();
  solver->load<ReplicationDataFlowAnalysis>(*grid, assumeArguments);
  if (failed(solver->initializeAndRun(top)))
    return nullptr; // nothing is known: every question answers "varies"
  return solver;
}

/// The state of `value` in `solver`, if it reached the value.
static std::optional<uint64_t> lookup(DataFlowSolver *solver, Value value) {
  if (!solver)
    return std::nullopt;
  const auto *lattice = solver->lookupState<ReplicationLattice>(value);
  if (!lattice || lattice->getValue().isUninitialized())
    return std::nullopt;
  return lattice->getValue().getAxes();
}

uint64_t ReplicationAnalysis::invariantAxes(Value value) {
  // The outermost op (the module) and the function right under it.
  Operation *top = value.getParentRegion()->getParentOp();
  Operation *function = nullptr;
  while (Operation *parent = top->getParentOp()) {
    if (isa<FunctionOpInterface>(top))
      function = top;
    top = parent;
  }
  if (isa<FunctionOpInterface>(top))
    function = top;
  if (root != top) {
    root = top;
    grid = std::make_unique<ReplicationGrid>(ReplicationGrid::of(top));
    solver = solve(top);
    functionSolvers.clear();
  }
  if (std::optional<uint64_t> axes = lookup(solver.get(), value))
    return *axes;
  // A function the module never calls (a private function of a library, a
  // module under test) is analyzed on its own as if entered from unknown
  // callers; values in code that never runs within a live function stay
  // unknown: not replicated.
  if (!function || function == top || !solver)
    return 0;
  Block *entry = &cast<FunctionOpInterface>(function).getFunctionBody().front();
  const auto *live = solver->lookupState<dataflow::Executable>(
      solver->getProgramPointBefore(entry));
  if (live && live->isLive())
    return 0;
  std::unique_ptr<DataFlowSolver> &own = functionSolvers[function];
  if (!own)
    own = solve(function);
  return lookup(own.get(), value).value_or(0);
}

bool ReplicationAnalysis::isReplicated(Value value) {
  uint64_t mask = invariantAxes(value);
  return grid && grid->isFull(mask);
}

bool ReplicationAnalysis::isReplicatedWithin(Value value, GroupOp group) {
  uint64_t mask = invariantAxes(value);
  if (!grid)
    return false;
  if (grid->isFull(mask))
    return true;
  uint64_t axes =
      grid->axesOf(group, FlatSymbolRefAttr::get(group.getSymNameAttr()),
                   /*gaining=*/false);
  return axes != kEverywhere && (mask & axes) == axes;
}
