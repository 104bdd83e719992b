//===- SPOps.cpp - sp dialect operations ----------------------------------===//

#include "sp/Dialect/SP/IR/SPOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace mlir::sp;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

GroupOp mlir::sp::lookupGroup(Operation *from, FlatSymbolRefAttr group) {
  if (!group)
    return nullptr;
  return SymbolTable::lookupNearestSymbolFrom<GroupOp>(from, group);
}

bool mlir::sp::isCollective(Operation *op) {
  return isa<AllReduceOp, ReduceScatterOp, AllGatherOp, AllSliceOp>(op);
}

std::optional<int64_t> mlir::sp::getGroupSize(Operation *collective) {
  auto group = collective->getAttrOfType<FlatSymbolRefAttr>("group");
  if (GroupOp groupOp = lookupGroup(collective, group))
    return groupOp.getSizeAttr().getInt();
  return std::nullopt;
}

/// Resolves the `group` symbol of a collective during symbol verification.
static FailureOr<GroupOp> verifyGroupSymbol(Operation *op,
                                            FlatSymbolRefAttr group,
                                            SymbolTableCollection &tables) {
  Operation *symbol = tables.lookupNearestSymbolFrom(op, group);
  if (!symbol) {
    op->emitOpError() << "refers to unknown group " << group;
    return failure();
  }
  auto groupOp = dyn_cast<GroupOp>(symbol);
  if (!groupOp) {
    op->emitOpError() << "group " << group << " must name an 'sp.group', but "
                      << "it names a '" << symbol->getName() << "'";
    return failure();
  }
  return groupOp;
}

/// Checks of reduce_scatter / all_gather / all_slice that do not need the
/// group: `dim` is in range and only dimension `dim` may differ.
static LogicalResult verifyResizeAlongDim(Operation *op, int64_t dim) {
  auto inType = cast<RankedTensorType>(op->getOperand(0).getType());
  auto outType = cast<RankedTensorType>(op->getResult(0).getType());
  if (inType.getRank() == 0)
    return op->emitOpError("input must have rank >= 1 to be split or "
                           "gathered along a dimension");
  if (dim < 0 || dim >= inType.getRank())
    return op->emitOpError() << "dim " << dim
                             << " is out of range for an input of rank "
                             << inType.getRank();
  if (inType.getElementType() != outType.getElementType())
    return op->emitOpError() << "result element type "
                             << outType.getElementType()
                             << " differs from input element type "
                             << inType.getElementType();
  if (inType.getRank() != outType.getRank())
    return op->emitOpError() << "result rank " << outType.getRank()
                             << " differs from input rank "
                             << inType.getRank();
  for (int64_t i = 0, e = inType.getRank(); i < e; ++i) {
    if (i == dim)
      continue;
    int64_t in = inType.getDimSize(i), out = outType.getDimSize(i);
    if (!ShapedType::isDynamic(in) && !ShapedType::isDynamic(out) && in != out)
      return op->emitOpError()
             << "result dimension " << i << " (" << out
             << ") differs from input dimension " << i << " (" << in
             << "); only dimension " << dim << " may change";
  }
  return success();
}

/// Checks of the `dim` sizes against the group size. `split` is true for
/// reduce_scatter and all_slice (result = input / size), false for
/// all_gather (result = input * size).
static LogicalResult verifyGroupShape(Operation *op, GroupOp group,
                                      int64_t dim, bool split) {
  auto inType = cast<RankedTensorType>(op->getOperand(0).getType());
  auto outType = cast<RankedTensorType>(op->getResult(0).getType());
  if (dim < 0 || dim >= inType.getRank())
    return failure(); // already reported by the op verifier
  int64_t size = group.getSizeAttr().getInt();
  int64_t in = inType.getDimSize(dim), out = outType.getDimSize(dim);
  bool inStatic = !ShapedType::isDynamic(in);
  bool outStatic = !ShapedType::isDynamic(out);
  if (split) {
    if (inStatic && in % size != 0)
      return op->emitOpError()
             << "input dimension " << dim << " (" << in
             << ") is not divisible by the size " << size << " of group @"
             << group.getSymName();
    if (inStatic && outStatic && out != in / size)
      return op->emitOpError()
             << "result dimension " << dim << " must be " << in << " / "
             << size << " = " << in / size << ", got " << out;
    return success();
  }
  if (outStatic && out % size != 0)
    return op->emitOpError()
           << "result dimension " << dim << " (" << out
           << ") is not a multiple of the size " << size << " of group @"
           << group.getSymName();
  if (inStatic && outStatic && out != in * size)
    return op->emitOpError()
           << "result dimension " << dim << " must be " << in << " * "
           << size << " = " << in * size << ", got " << out;
  return success();
}

/// A collective over a group of one rank is the identity.
static bool isSingleRank(Operation *collective) {
  return getGroupSize(collective) == std::optional<int64_t>(1);
}

/// Folds a single-rank collective whose result type equals its input type.
static OpFoldResult foldSingleRank(Operation *collective) {
  Value input = collective->getOperand(0);
  if (input.getType() == collective->getResult(0).getType() &&
      isSingleRank(collective))
    return input;
  return {};
}

//===----------------------------------------------------------------------===//
// GroupOp
//===----------------------------------------------------------------------===//

LogicalResult GroupOp::verify() {
  // I64Attr's accessor is unsigned; read the attribute as signed.
  int64_t size = getSizeAttr().getInt();
  if (size < 1)
    return emitOpError() << "size must be >= 1, got " << size;
  return success();
}

//===----------------------------------------------------------------------===//
// AllReduceOp
//===----------------------------------------------------------------------===//

GroupOp AllReduceOp::getGroupOp() { return lookupGroup(*this, getGroupAttr()); }

LogicalResult
AllReduceOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  return verifyGroupSymbol(*this, getGroupAttr(), symbolTable);
}

OpFoldResult AllReduceOp::fold(FoldAdaptor) {
  if (OpFoldResult single = foldSingleRank(*this))
    return single;
  // min/max of a value that is already the same on every rank of the group
  // is that value (exact, unlike sum/avg which would rescale or round).
  ReductionKind kind = getReduction();
  if (kind != ReductionKind::min && kind != ReductionKind::max)
    return {};
  Operation *def = getInput().getDefiningOp();
  if (!def)
    return {};
  if (auto producer = dyn_cast<AllReduceOp>(def))
    if (producer.getGroupAttr() == getGroupAttr())
      return getInput();
  if (auto producer = dyn_cast<AllGatherOp>(def))
    if (producer.getGroupAttr() == getGroupAttr())
      return getInput();
  return {};
}

//===----------------------------------------------------------------------===//
// ReduceScatterOp
//===----------------------------------------------------------------------===//

GroupOp ReduceScatterOp::getGroupOp() {
  return lookupGroup(*this, getGroupAttr());
}

LogicalResult ReduceScatterOp::verify() {
  return verifyResizeAlongDim(*this, getDimAttr().getInt());
}

LogicalResult
ReduceScatterOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  FailureOr<GroupOp> group =
      verifyGroupSymbol(*this, getGroupAttr(), symbolTable);
  if (failed(group))
    return failure();
  return verifyGroupShape(*this, *group, getDimAttr().getInt(), /*split=*/true);
}

OpFoldResult ReduceScatterOp::fold(FoldAdaptor) {
  return foldSingleRank(*this);
}

//===----------------------------------------------------------------------===//
// AllGatherOp
//===----------------------------------------------------------------------===//

GroupOp AllGatherOp::getGroupOp() { return lookupGroup(*this, getGroupAttr()); }

LogicalResult AllGatherOp::verify() {
  return verifyResizeAlongDim(*this, getDimAttr().getInt());
}

LogicalResult
AllGatherOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  FailureOr<GroupOp> group =
      verifyGroupSymbol(*this, getGroupAttr(), symbolTable);
  if (failed(group))
    return failure();
  return verifyGroupShape(*this, *group, getDimAttr().getInt(), /*split=*/false);
}

OpFoldResult AllGatherOp::fold(FoldAdaptor) { return foldSingleRank(*this); }

//===----------------------------------------------------------------------===//
// AllSliceOp
//===----------------------------------------------------------------------===//

GroupOp AllSliceOp::getGroupOp() { return lookupGroup(*this, getGroupAttr()); }

LogicalResult AllSliceOp::verify() {
  return verifyResizeAlongDim(*this, getDimAttr().getInt());
}

LogicalResult
AllSliceOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  FailureOr<GroupOp> group =
      verifyGroupSymbol(*this, getGroupAttr(), symbolTable);
  if (failed(group))
    return failure();
  return verifyGroupShape(*this, *group, getDimAttr().getInt(), /*split=*/true);
}

OpFoldResult AllSliceOp::fold(FoldAdaptor) {
  if (OpFoldResult single = foldSingleRank(*this))
    return single;
  // all_slice(all_gather(x)) == x: rank r's chunk of the gather is its own x.
  auto gather = getInput().getDefiningOp<AllGatherOp>();
  if (gather && gather.getGroupAttr() == getGroupAttr() &&
      gather.getDimAttr().getInt() == getDimAttr().getInt() &&
      gather.getInput().getType() == getResult().getType())
    return gather.getInput();
  return {};
}

namespace {
/// all_slice(all_reduce(x)) -> reduce_scatter(x) when the slice is the
/// all-reduce's only user: rank r's chunk of the full reduction is exactly
/// what reduce_scatter delivers to rank r, with (N-1)/N of the traffic of an
/// all-reduce. With other users the all-reduce stays, so rewriting would add
/// a collective; the pattern then leaves the IR alone.
struct SliceOfAllReduceToReduceScatter : OpRewritePattern<AllSliceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AllSliceOp slice,
                                PatternRewriter &rewriter) const override {
    auto reduce = slice.getInput().getDefiningOp<AllReduceOp>();
    if (!reduce)
      return rewriter.notifyMatchFailure(slice, "input is not an all_reduce");
    if (reduce.getGroupAttr() != slice.getGroupAttr())
      return rewriter.notifyMatchFailure(slice, "different groups");
    if (!reduce->hasOneUse())
      return rewriter.notifyMatchFailure(
          slice, "all_reduce has other users; rewriting would add traffic");
    rewriter.replaceOpWithNewOp<ReduceScatterOp>(
        slice, slice.getType(), reduce.getInput(), slice.getGroupAttr(),
        slice.getDimAttr(), reduce.getReductionAttr());
    return success();
  }
};
} // namespace

void AllSliceOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                             MLIRContext *context) {
  results.add<SliceOfAllReduceToReduceScatter>(context);
}

//===----------------------------------------------------------------------===//
// Row-wise ops
//===----------------------------------------------------------------------===//

/// Shared checks of rms_norm and fused_add_rms_norm.
static LogicalResult verifyNorm(Operation *op, Type inputType,
                                Type weightType, FloatAttr epsilon) {
  auto input = cast<RankedTensorType>(inputType);
  auto weight = cast<RankedTensorType>(weightType);
  if (input.getRank() < 1)
    return op->emitOpError("input must have rank >= 1 (rows x hidden)");
  if (weight.getRank() != 1)
    return op->emitOpError() << "weight must be 1-D, got rank "
                             << weight.getRank();
  if (weight.getElementType() != input.getElementType())
    return op->emitOpError()
           << "weight element type " << weight.getElementType()
           << " differs from input element type " << input.getElementType();
  int64_t hidden = input.getDimSize(input.getRank() - 1);
  int64_t length = weight.getDimSize(0);
  if (!ShapedType::isDynamic(hidden) && !ShapedType::isDynamic(length) &&
      hidden != length)
    return op->emitOpError()
           << "weight length " << length
           << " does not match the input's last dimension " << hidden;
  const APFloat &eps = epsilon.getValue();
  if (eps.isNaN() || eps.isInfinity() || eps.isNegative() || eps.isZero())
    return op->emitOpError() << "epsilon must be a positive finite number, got "
                             << epsilon.getValueAsDouble();
  return success();
}

LogicalResult RMSNormOp::verify() {
  return verifyNorm(*this, getInput().getType(), getWeight().getType(),
                    getEpsilonAttr());
}

LogicalResult FusedAddRMSNormOp::verify() {
  return verifyNorm(*this, getInput().getType(), getWeight().getType(),
                    getEpsilonAttr());
}

LogicalResult QuantOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  auto result = cast<RankedTensorType>(getResult().getType());
  Type resultElement = result.getElementType();
  if (!isa<Float8E4M3FNType, Float8E4M3FNUZType>(resultElement))
    return emitOpError() << "result element type must be f8E4M3FN or "
                            "f8E4M3FNUZ, got "
                         << resultElement;
  if (input.getShape() != result.getShape())
    return emitOpError() << "result shape must equal the input shape: input "
                         << input << ", result " << result;
  return success();
}

#define GET_OP_CLASSES
#include "sp/Dialect/SP/IR/SPOps.cpp.inc"
