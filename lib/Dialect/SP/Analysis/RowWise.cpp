//===- RowWise.cpp - which ops compute each row from the same row ---------===//

#include "sp/Dialect/SP/Analysis/RowWise.h"

#include "sp/Dialect/SP/IR/SPOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/AffineExpr.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"

using namespace mlir;
using namespace mlir::sp;

/// The loop that indexes dim 0 of an operand through `map`, if dim 0 is a
/// bare loop dim.
static std::optional<unsigned> rowLoop(AffineMap map) {
  if (map.getNumResults() == 0)
    return std::nullopt;
  if (auto dim = dyn_cast<AffineDimExpr>(map.getResult(0)))
    return dim.getPosition();
  return std::nullopt;
}

static std::optional<SmallVector<RowOperand>>
linalgRowWise(linalg::LinalgOp op, unsigned rowOperand) {
  if (!op.hasPureTensorSemantics())
    return std::nullopt;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  std::optional<unsigned> loop = rowLoop(maps[rowOperand]);
  if (!loop)
    return std::nullopt;
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  if (iterators[*loop] != utils::IteratorType::parallel)
    return std::nullopt;
  SmallVector<RowOperand> kinds;
  for (OpOperand &operand : op->getOpOperands()) {
    unsigned index = operand.getOperandNumber();
    if (!isa<RankedTensorType>(operand.get().getType())) {
      kinds.push_back(RowOperand::Scalar);
      continue;
    }
    AffineMap map = maps[index];
    if (rowLoop(map) == loop) {
      // The row loop may index dim 0 only.
      for (AffineExpr expr : map.getResults().drop_front())
        if (expr.isFunctionOfDim(*loop))
          return std::nullopt;
      kinds.push_back(RowOperand::Aligned);
      continue;
    }
    for (AffineExpr expr : map.getResults())
      if (expr.isFunctionOfDim(*loop))
        return std::nullopt; // the rows move (a transpose) or mix
    // Inits are results: they must be row-aligned.
    if (op.isDpsInit(&operand))
      return std::nullopt;
    kinds.push_back(RowOperand::Broadcast);
  }
  return kinds;
}

std::optional<SmallVector<RowOperand>>
mlir::sp::getRowWiseOperands(Operation *op, unsigned rowOperand) {
  if (rowOperand >= op->getNumOperands())
    return std::nullopt;
  std::optional<SmallVector<RowOperand>> kinds;
  if (auto rowWise = dyn_cast<RowWiseOpInterface>(op)) {
    kinds.emplace();
    for (unsigned i = 0, e = op->getNumOperands(); i < e; ++i)
      kinds->push_back(rowWise.isBroadcastAlongRows(i) ? RowOperand::Broadcast
                                                       : RowOperand::Aligned);
  } else if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op)) {
    kinds = linalgRowWise(linalgOp, rowOperand);
  } else if (op->hasTrait<OpTrait::Elementwise>() && isMemoryEffectFree(op) &&
             op->getNumRegions() == 0) {
    // Elementwise on tensors: every tensor operand has the results' shape.
    kinds.emplace();
    for (Value operand : op->getOperands())
      kinds->push_back(isa<RankedTensorType>(operand.getType())
                           ? RowOperand::Aligned
                           : RowOperand::Scalar);
  }
  if (!kinds || (*kinds)[rowOperand] != RowOperand::Aligned)
    return std::nullopt;
  // Every result is rows x ... with the row operand's rows.
  auto rowType = dyn_cast<RankedTensorType>(op->getOperand(rowOperand).getType());
  if (!rowType || rowType.getRank() < 1 || op->getNumResults() == 0)
    return std::nullopt;
  for (Value result : op->getResults()) {
    auto type = dyn_cast<RankedTensorType>(result.getType());
    if (!type || type.getRank() < 1 ||
        type.getDimSize(0) != rowType.getDimSize(0))
      return std::nullopt;
  }
  for (auto [operand, kind] : llvm::zip(op->getOperands(), *kinds)) {
    if (kind != RowOperand::Aligned)
      continue;
    auto type = cast<RankedTensorType>(operand.getType());
    if (type.getRank() < 1 || type.getDimSize(0) != rowType.getDimSize(0))
      return std::nullopt;
  }
  return kinds;
}

std::string mlir::sp::describeRowWiseOperand(Operation *op, unsigned index) {
  if (auto rowWise = dyn_cast<RowWiseOpInterface>(op))
    return ("the " + rowWise.getOperandRole(index)).str();
  return "operand #" + std::to_string(index);
}
