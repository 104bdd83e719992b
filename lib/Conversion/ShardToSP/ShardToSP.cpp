//===- ShardToSP.cpp - sp-import-shard ------------------------------------===//
//
// Upstream shard's collectives (as shard-partition emits them) become sp's,
// over one sp.group per (grid, grid_axes) pair, so that sp's passes apply to
// shard-partitioned programs. A plain IR walk: every decision is local to an
// op, and the groups are created once all ops are classified so that their
// names can take over the names of grids the import leaves unused.
//
//===----------------------------------------------------------------------===//

#include "sp/Conversion/ShardToSP/ShardToSP.h"

#include "sp/Dialect/SP/IR/SPOps.h"

#include "mlir/Dialect/Shard/IR/ShardDialect.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/TypeSwitch.h"

#include <map>

namespace mlir::sp {
#define GEN_PASS_DEF_SPIMPORTSHARD
#include "sp/Conversion/Passes.h.inc"
} // namespace mlir::sp

using namespace mlir;
using namespace mlir::sp;

/// sp's name for a shard reduction, or std::nullopt when sp has none.
static std::optional<sp::ReductionKind>
importReduction(shard::ReductionKind kind) {
  switch (kind) {
  case shard::ReductionKind::Sum:
    return sp::ReductionKind::sum;
  case shard::ReductionKind::Max:
    return sp::ReductionKind::max;
  case shard::ReductionKind::Min:
    return sp::ReductionKind::min;
  case shard::ReductionKind::Product:
    return sp::ReductionKind::prod;
  case shard::ReductionKind::Average:
    return sp::ReductionKind::avg;
  default:
    return std::nullopt;
  }
}

/// True when `sharding` replicates a value on every device of its grid.
static bool isFullyReplicated(shard::ShardingOp sharding) {
  return llvm::all_of(sharding.getSplitAxes().getAxes(),
                      [](shard::GridAxesAttr axes) { return axes.empty(); }) &&
         sharding.getStaticHaloSizes().empty() &&
         sharding.getDynamicHaloSizes().empty() &&
         sharding.getStaticShardedDimsOffsets().empty() &&
         sharding.getDynamicShardedDimsOffsets().empty();
}

namespace {
/// A shard op the import rewrites: a collective over `axes` of `grid` (no
/// axes: the identity), or a process_multi_index along one axis.
struct Candidate {
  Operation *op;
  shard::GridOp grid;
  SmallVector<int16_t> axes;
};

using GroupKey = std::pair<Operation *, SmallVector<int16_t>>;

struct ImportShardPass : public sp::impl::SPImportShardBase<ImportShardPass> {
  void runOnOperation() override;
};
} // namespace

static InFlightDiagnostic leftAlone(Operation *op) {
  return op->emitRemark() << "'" << op->getName() << "' left alone: ";
}

/// `2x?` for a grid shape, as shard prints it.
static std::string shapeString(ArrayRef<int64_t> shape) {
  std::string text;
  llvm::raw_string_ostream os(text);
  llvm::interleave(
      shape, os,
      [&](int64_t extent) {
        if (ShapedType::isDynamic(extent))
          os << '?';
        else
          os << extent;
      },
      "x");
  return text;
}

/// Decides whether `op` is imported. Failure: malformed IR (reported);
/// std::nullopt: left alone (remarked).
static FailureOr<std::optional<Candidate>>
classify(Operation *op, SymbolTableCollection &tables) {
  auto gridRef =
      TypeSwitch<Operation *, FlatSymbolRefAttr>(op)
          .Case<shard::AllReduceOp, shard::ReduceScatterOp, shard::AllGatherOp,
                shard::AllSliceOp, shard::ProcessMultiIndexOp>(
              [](auto user) { return user.getGridAttr(); })
          .Default([](Operation *) { return FlatSymbolRefAttr(); });
  auto grid = tables.lookupNearestSymbolFrom<shard::GridOp>(op, gridRef);
  if (!grid) {
    op->emitOpError() << "refers to " << gridRef
                      << ", which is not a shard.grid";
    return failure();
  }
  ArrayRef<int64_t> shape = grid.getShape();
  auto index = dyn_cast<shard::ProcessMultiIndexOp>(op);

  SmallVector<int16_t> axes;
  if (index) {
    // The coordinate along one grid axis is the rank in the group spanning
    // that axis; no axes means all of them.
    axes.assign(index.getAxes().begin(), index.getAxes().end());
    if (axes.empty())
      for (int64_t axis = 0, e = shape.size(); axis < e; ++axis)
        axes.push_back(axis);
    if (axes.size() != 1) {
      leftAlone(op) << "it returns " << axes.size()
                    << " coordinates, and sp.group_rank one group's index "
                       "(a process_multi_index along one grid axis is "
                       "imported)";
      return std::optional<Candidate>();
    }
  } else {
    ArrayRef<int16_t> gridAxes =
        TypeSwitch<Operation *, ArrayRef<int16_t>>(op)
            .Case<shard::AllReduceOp, shard::ReduceScatterOp,
                  shard::AllGatherOp, shard::AllSliceOp>(
                [](auto collective) { return collective.getGridAxes(); })
            .Default([](Operation *) { return ArrayRef<int16_t>(); });
    axes.assign(gridAxes.begin(), gridAxes.end());
    Type inputType = op->getOperand(0).getType();
    Type resultType = op->getResult(0).getType();
    // No axes: every rank is a group of its own, the op is the identity.
    if (axes.empty()) {
      if (inputType != resultType) {
        leftAlone(op) << "it spans no grid axes (the identity) but changes "
                         "the type from "
                      << inputType << " to " << resultType;
        return std::optional<Candidate>();
      }
      return std::optional<Candidate>(Candidate{op, grid, {}});
    }
    if (!isa<RankedTensorType>(inputType) ||
        !isa<RankedTensorType>(resultType)) {
      leftAlone(op) << "sp collectives take ranked tensors, not " << inputType;
      return std::optional<Candidate>();
    }
    std::optional<shard::ReductionKind> reduction;
    if (auto allReduce = dyn_cast<shard::AllReduceOp>(op))
      reduction = allReduce.getReduction();
    else if (auto reduceScatter = dyn_cast<shard::ReduceScatterOp>(op))
      reduction = reduceScatter.getReduction();
    if (reduction && !importReduction(*reduction)) {
      leftAlone(op) << "reduction " << shard::stringifyReductionKind(*reduction)
                    << " has no sp equivalent (sp reduces with sum, prod, "
                       "min, max, avg)";
      return std::optional<Candidate>();
    }
    if (isa<shard::AllReduceOp>(op) && inputType != resultType) {
      leftAlone(op) << "it accumulates in " << resultType
                    << " while its input is " << inputType
                    << "; sp.all_reduce keeps its input's type";
      return std::optional<Candidate>();
    }
    if (getElementTypeOrSelf(inputType) != getElementTypeOrSelf(resultType)) {
      leftAlone(op) << "it changes the element type from "
                    << getElementTypeOrSelf(inputType) << " to "
                    << getElementTypeOrSelf(resultType)
                    << "; sp collectives keep it";
      return std::optional<Candidate>();
    }
  }

  // The group needs the grid's static shape, next to the grid.
  if (llvm::any_of(shape, ShapedType::isDynamic)) {
    leftAlone(op) << "grid @" << grid.getSymName()
                  << " has a dynamic extent (shape = " << shapeString(shape)
                  << "); sp groups have static sizes";
    return std::optional<Candidate>();
  }
  if (!isa<ModuleOp>(grid->getParentOp())) {
    leftAlone(op) << "grid @" << grid.getSymName()
                  << " is not declared in a builtin.module, where an "
                     "sp.group must live";
    return std::optional<Candidate>();
  }
  return std::optional<Candidate>(Candidate{op, grid, axes});
}

void ImportShardPass::runOnOperation() {
  ModuleOp module = getOperation();
  MLIRContext *context = &getContext();
  SymbolTableCollection tables;

  // 1. Classify every shard op the import could rewrite.
  SmallVector<Candidate> candidates;
  bool malformed = false;
  module.walk([&](Operation *op) {
    if (isa<shard::AllReduceOp, shard::ReduceScatterOp, shard::AllGatherOp,
            shard::AllSliceOp, shard::ProcessMultiIndexOp>(op)) {
      FailureOr<std::optional<Candidate>> candidate = classify(op, tables);
      if (failed(candidate))
        malformed = true;
      else if (*candidate)
        candidates.push_back(std::move(**candidate));
      return;
    }
    if (isa<shard::AllToAllOp, shard::BroadcastOp, shard::GatherOp,
            shard::RecvOp, shard::ReduceOp, shard::ScatterOp, shard::SendOp,
            shard::ShiftOp>(op))
      leftAlone(op) << "sp has no equivalent collective";
  });
  if (malformed)
    return signalPassFailure();

  // 2. Grids whose every use is rewritten go away; their names are free for
  //    the groups that replace them.
  llvm::SmallPtrSet<Operation *, 16> rewritten;
  llvm::SetVector<Operation *> grids;
  for (Candidate &candidate : candidates) {
    rewritten.insert(candidate.op);
    grids.insert(candidate.grid);
  }
  llvm::SmallPtrSet<Operation *, 4> erasedGrids;
  for (Operation *grid : grids) {
    std::optional<SymbolTable::UseRange> uses =
        SymbolTable::getSymbolUses(grid, grid->getParentOp());
    if (!uses || !llvm::all_of(*uses, [&](const SymbolTable::SymbolUse &use) {
          return rewritten.contains(use.getUser());
        }))
      continue;
    erasedGrids.insert(grid);
    tables.getSymbolTable(grid->getParentOp()).remove(grid);
  }

  // 3. One sp.group per (grid, axes), in order of first use, where the grid
  //    is declared.
  std::map<GroupKey, FlatSymbolRefAttr> groups;
  OpBuilder detached(context);
  for (Candidate &candidate : candidates) {
    if (candidate.axes.empty())
      continue;
    GroupKey key(candidate.grid, candidate.axes);
    if (groups.count(key))
      continue;
    shard::GridOp grid = candidate.grid;
    ArrayRef<int64_t> shape = grid.getShape();
    bool plain = shape.size() == 1 && candidate.axes == ArrayRef<int16_t>{0};
    std::string name = grid.getSymName().str();
    if (!plain || !erasedGrids.contains(grid)) {
      name += "_axes";
      for (int16_t axis : candidate.axes)
        name += "_" + std::to_string(axis);
    }
    int64_t size = 1;
    SmallVector<int64_t> axes;
    for (int16_t axis : candidate.axes) {
      size *= shape[axis];
      axes.push_back(axis);
    }
    DenseI64ArrayAttr gridAttr =
        plain ? DenseI64ArrayAttr() : detached.getDenseI64ArrayAttr(shape);
    DenseI64ArrayAttr axesAttr =
        plain ? DenseI64ArrayAttr() : detached.getDenseI64ArrayAttr(axes);
    SymbolTable &table = tables.getSymbolTable(grid->getParentOp());
    // An earlier import may have made this very group already.
    if (auto existing = table.lookup<GroupOp>(name);
        existing && existing.getSizeAttr().getInt() == size &&
        existing.getGridAttr() == gridAttr &&
        existing.getAxesAttr() == axesAttr) {
      groups[key] = FlatSymbolRefAttr::get(existing.getSymNameAttr());
      continue;
    }
    auto group =
        GroupOp::create(detached, grid.getLoc(), detached.getStringAttr(name),
                        detached.getI64IntegerAttr(size), gridAttr, axesAttr);
    groups[key] =
        FlatSymbolRefAttr::get(table.insert(group, Block::iterator(grid)));
  }

  // 4. Rewrite the ops.
  for (Candidate &candidate : candidates) {
    Operation *op = candidate.op;
    if (candidate.axes.empty()) {
      op->getResult(0).replaceAllUsesWith(op->getOperand(0));
      op->erase();
      continue;
    }
    FlatSymbolRefAttr group = groups[GroupKey(candidate.grid, candidate.axes)];
    OpBuilder b(op);
    Location loc = op->getLoc();
    Value replacement;
    if (auto index = dyn_cast<shard::ProcessMultiIndexOp>(op)) {
      replacement = GroupRankOp::create(b, loc, group);
    } else {
      Value input = op->getOperand(0);
      Type type = op->getResult(0).getType();
      auto reductionAttr = [&](shard::ReductionKind kind) {
        return ReductionKindAttr::get(context, *importReduction(kind));
      };
      if (auto allReduce = dyn_cast<shard::AllReduceOp>(op))
        replacement =
            AllReduceOp::create(b, loc, type, input, group,
                                reductionAttr(allReduce.getReduction()));
      else if (auto reduceScatter = dyn_cast<shard::ReduceScatterOp>(op))
        replacement = ReduceScatterOp::create(
            b, loc, type, input, group,
            b.getI64IntegerAttr(reduceScatter.getScatterAxis().getSExtValue()),
            reductionAttr(reduceScatter.getReduction()));
      else if (auto allGather = dyn_cast<shard::AllGatherOp>(op))
        replacement = AllGatherOp::create(
            b, loc, type, input, group,
            b.getI64IntegerAttr(allGather.getGatherAxis().getSExtValue()));
      else
        replacement = AllSliceOp::create(
            b, loc, type, input, group,
            b.getI64IntegerAttr(
                cast<shard::AllSliceOp>(op).getSliceAxis().getSExtValue()));
    }
    op->getResult(0).replaceAllUsesWith(replacement);
    op->erase();
  }
  for (Operation *grid : erasedGrids)
    grid->erase();

  // 5. Arguments annotated as replicated on every device are sp.replicated.
  StringRef replicated = SPDialect::getReplicatedAttrName();
  module.walk([&](FunctionOpInterface function) {
    if (function.isExternal())
      return;
    for (BlockArgument arg : function.getArguments()) {
      bool isReplicated = llvm::any_of(arg.getUsers(), [&](Operation *user) {
        auto annotation = dyn_cast<shard::ShardOp>(user);
        if (!annotation || annotation.getSrc() != arg ||
            annotation.getAnnotateForUsers())
          return false;
        auto sharding =
            annotation.getSharding().getDefiningOp<shard::ShardingOp>();
        return sharding && isFullyReplicated(sharding);
      });
      if (isReplicated)
        function.setArgAttr(arg.getArgNumber(), replicated,
                            UnitAttr::get(context));
    }
  });
}
