//===- SPToShard.cpp - sp-export-shard ------------------------------------===//
//
// The inverse of sp-import-shard: sp's collectives become upstream shard's,
// each sp.group a shard.grid and grid_axes, so that a compiler can keep its
// shard-based lowering after sp's rewrite. Ops without a shard equivalent
// are reported before anything changes, so a failing export leaves the
// module as it was.
//
//===----------------------------------------------------------------------===//

#include "sp/Conversion/SPToShard/SPToShard.h"

#include "sp/Dialect/SP/IR/SPOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Shard/IR/ShardDialect.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/STLExtras.h"

#include <map>

namespace mlir::sp {
#define GEN_PASS_DEF_SPEXPORTSHARD
#include "sp/Conversion/Passes.h.inc"
} // namespace mlir::sp

using namespace mlir;
using namespace mlir::sp;

static shard::ReductionKind exportReduction(sp::ReductionKind kind) {
  switch (kind) {
  case sp::ReductionKind::sum:
    return shard::ReductionKind::Sum;
  case sp::ReductionKind::prod:
    return shard::ReductionKind::Product;
  case sp::ReductionKind::min:
    return shard::ReductionKind::Min;
  case sp::ReductionKind::max:
    return shard::ReductionKind::Max;
  case sp::ReductionKind::avg:
    return shard::ReductionKind::Average;
  }
  llvm_unreachable("unknown sp reduction");
}

/// The suffix sp-import-shard gives the group of `axes` of a grid.
static std::string axesSuffix(ArrayRef<int64_t> axes) {
  std::string suffix = "_axes";
  for (int64_t axis : axes)
    suffix += "_" + std::to_string(axis);
  return suffix;
}

namespace {
/// Where a group's collectives run in shard terms.
struct GridAxes {
  FlatSymbolRefAttr grid;
  SmallVector<int16_t> axes;
  /// The extents of `axes`, to linearize a group rank.
  SmallVector<int64_t> extents;
};

/// Makes the grids of the exported groups.
struct GridBuilder {
  /// The grid `group` maps to: reused (an existing shard.grid of the right
  /// name and shape, or the grid of an earlier group with the same layout)
  /// or created before the group.
  GridAxes exportGroup(GroupOp group);

  SymbolTableCollection &tables;
  /// Layout grids so far, by (module, shape): groups with the same grid
  /// share one.
  std::map<std::pair<Operation *, SmallVector<int64_t>>, FlatSymbolRefAttr>
      layoutGrids = {};
};

struct ExportShardPass : public sp::impl::SPExportShardBase<ExportShardPass> {
  void runOnOperation() override;
};
} // namespace

/// The shard.grid named `name` with `shape` in `table`, or null.
static shard::GridOp findGrid(SymbolTable &table, StringRef name,
                              ArrayRef<int64_t> shape) {
  auto grid = table.lookup<shard::GridOp>(name);
  return grid && grid.getShape() == shape ? grid : shard::GridOp();
}

GridAxes GridBuilder::exportGroup(GroupOp group) {
  Operation *module = group->getParentOp();
  SymbolTable &table = tables.getSymbolTable(module);
  StringRef name = group.getSymName();
  std::optional<ArrayRef<int64_t>> layout = group.getGrid();
  SmallVector<int64_t> shape =
      layout ? SmallVector<int64_t>(*layout)
             : SmallVector<int64_t>{group.getSizeAttr().getInt()};
  SmallVector<int64_t> axes =
      layout ? SmallVector<int64_t>(*group.getAxes()) : SmallVector<int64_t>{0};

  GridAxes result;
  for (int64_t axis : axes) {
    result.axes.push_back(axis);
    result.extents.push_back(shape[axis]);
  }

  // Names the import gives: @<grid>_axes_<a>_... (and a plain group named
  // so while its grid was still in use); reuse that grid if it is there.
  std::string suffix = axesSuffix(axes);
  std::string base;
  if (name.size() > suffix.size() && name.ends_with(suffix)) {
    base = name.drop_back(suffix.size()).str();
    if (shard::GridOp grid = findGrid(table, base, shape)) {
      result.grid = FlatSymbolRefAttr::get(grid.getSymNameAttr());
      layoutGrids.try_emplace({module, shape}, result.grid);
      return result;
    }
  }
  std::string gridName;
  if (!layout) {
    // A plain group is its own grid, named after it.
    gridName = name.str();
  } else {
    auto shared = layoutGrids.find({module, shape});
    if (shared != layoutGrids.end()) {
      result.grid = shared->second;
      return result;
    }
    gridName = base.empty() ? name.str() + "_grid" : base;
  }

  OpBuilder detached(group.getContext());
  auto grid = shard::GridOp::create(detached, group.getLoc(), gridName, shape);
  result.grid =
      FlatSymbolRefAttr::get(table.insert(grid, Block::iterator(group)));
  if (layout)
    layoutGrids.try_emplace({module, shape}, result.grid);
  return result;
}

void ExportShardPass::runOnOperation() {
  ModuleOp module = getOperation();
  SymbolTableCollection tables;

  // 1. Report what has no shard equivalent before changing anything.
  llvm::MapVector<Operation *, GroupOp> exported;
  bool failedAny = false;
  module.walk(
      [&](Operation *op) {
        if (isa<AllGatherMatmulOp, MatmulReduceScatterOp>(op)) {
          op->emitOpError()
              << "has no shard equivalent; run sp-decompose-to-linalg first, "
                 "which expands it into its collective and linalg.matmul";
          failedAny = true;
          return;
        }
        if (isa<RingShiftOp>(op)) {
          op->emitOpError()
              << "has no shard equivalent; export before "
                 "sp-decompose-collective-matmul, which introduces it (or run "
                 "sp-decompose-to-linalg on the fused ops instead)";
          failedAny = true;
          return;
        }
        if (!isa<AllReduceOp, ReduceScatterOp, AllGatherOp, AllSliceOp,
                 GroupRankOp>(op))
          return;
        auto groupRef = op->getAttrOfType<FlatSymbolRefAttr>("group");
        GroupOp group = lookupGroup(op, groupRef);
        if (!group) {
          op->emitOpError()
              << "refers to " << groupRef << ", which is not an sp.group";
          failedAny = true;
          return;
        }
        exported.insert({op, group});
      });
  if (failedAny)
    return signalPassFailure();

  // 2. Groups whose every use is exported give up their names (a plain
  //    group's grid takes it).
  SmallVector<GroupOp> groups;
  module.walk([&](GroupOp group) { groups.push_back(group); });
  llvm::SmallPtrSet<Operation *, 8> usedGroups, removedGroups;
  for (auto &[op, group] : exported)
    usedGroups.insert(group);
  for (GroupOp group : groups) {
    std::optional<SymbolTable::UseRange> uses =
        SymbolTable::getSymbolUses(group, group->getParentOp());
    if (!uses || !llvm::all_of(*uses, [&](const SymbolTable::SymbolUse &use) {
          return exported.count(use.getUser());
        }))
      continue;
    removedGroups.insert(group);
    tables.getSymbolTable(group->getParentOp()).remove(group);
  }

  // 3. A grid for every group in use, in module order.
  GridBuilder builder{tables};
  llvm::DenseMap<Operation *, GridAxes> grids;
  for (GroupOp group : groups)
    if (usedGroups.contains(group))
      grids[group] = builder.exportGroup(group);

  // 4. Rewrite the ops.
  MLIRContext *context = &getContext();
  for (auto &[op, group] : exported) {
    const GridAxes &target = grids[group];
    OpBuilder b(op);
    Location loc = op->getLoc();
    DenseI16ArrayAttr axes = b.getDenseI16ArrayAttr(target.axes);
    auto reductionAttr = [&](sp::ReductionKind kind) {
      return shard::ReductionKindAttr::get(context, exportReduction(kind));
    };
    Value replacement;
    if (auto allReduce = dyn_cast<AllReduceOp>(op)) {
      replacement = shard::AllReduceOp::create(
          b, loc, allReduce.getType(), target.grid, axes, allReduce.getInput(),
          reductionAttr(allReduce.getReduction()));
    } else if (auto reduceScatter = dyn_cast<ReduceScatterOp>(op)) {
      replacement = shard::ReduceScatterOp::create(
          b, loc, reduceScatter.getType(), target.grid, axes,
          reduceScatter.getInput(), reductionAttr(reduceScatter.getReduction()),
          b.getIndexAttr(reduceScatter.getDimAttr().getInt()));
    } else if (auto allGather = dyn_cast<AllGatherOp>(op)) {
      replacement = shard::AllGatherOp::create(
          b, loc, allGather.getType(), target.grid, axes, allGather.getInput(),
          b.getIndexAttr(allGather.getDimAttr().getInt()));
    } else if (auto allSlice = dyn_cast<AllSliceOp>(op)) {
      replacement = shard::AllSliceOp::create(
          b, loc, allSlice.getType(), target.grid, axes, allSlice.getInput(),
          b.getIndexAttr(allSlice.getDimAttr().getInt()));
    } else if (target.axes.empty()) {
      // A group spanning no axes has one rank (and shard would read empty
      // axes as all of them).
      replacement = arith::ConstantIndexOp::create(b, loc, 0);
    } else {
      // The group's index: its coordinates on the spanned axes, linearized
      // in the order listed (last fastest), as sp.group defines it.
      SmallVector<Type> indexTypes(target.axes.size(), b.getIndexType());
      auto coordinates = shard::ProcessMultiIndexOp::create(b, loc, indexTypes,
                                                            target.grid, axes);
      replacement = coordinates.getResult()[0];
      for (auto [coordinate, extent] : llvm::drop_begin(
               llvm::zip(coordinates.getResult(), target.extents))) {
        Value scaled = arith::MulIOp::create(
            b, loc, replacement,
            arith::ConstantIndexOp::create(b, loc, extent));
        replacement = arith::AddIOp::create(b, loc, scaled, coordinate);
      }
    }
    op->getResult(0).replaceAllUsesWith(replacement);
    op->erase();
  }

  // 5. Groups nothing refers to any more go away.
  for (GroupOp group : groups) {
    if (removedGroups.contains(group)) {
      group.erase();
      continue;
    }
    if (SymbolTable::symbolKnownUseEmpty(group, group->getParentOp()))
      tables.getSymbolTable(group->getParentOp()).erase(group);
  }
}
