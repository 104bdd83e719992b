//===- SPOps.cpp - sp dialect operations ----------------------------------===//

#include "sp/Dialect/SP/IR/SPOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/MathExtras.h"

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

std::optional<int64_t> mlir::sp::getGroupSizeOf(Operation *from,
                                                FlatSymbolRefAttr group) {
  if (GroupOp groupOp = lookupGroup(from, group))
    return groupOp.getSizeAttr().getInt();
  return std::nullopt;
}

GroupOp CollectiveOpInterface::getGroupOp() {
  return lookupGroup(*this, getGroupAttr());
}

std::optional<int64_t> CollectiveOpInterface::getGroupSize() {
  return getGroupSizeOf(*this, getGroupAttr());
}

std::optional<int64_t> mlir::sp::getGroupSize(Operation *op) {
  if (auto collective = dyn_cast<CollectiveOpInterface>(op))
    return collective.getGroupSize();
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

LogicalResult mlir::sp::verifyResizeAlongDim(CollectiveOpInterface collective) {
  Operation *op = collective;
  int64_t dim = *collective.getCollectiveDim();
  // Element types and ranks are checked by the ops' traits.
  auto inType = cast<RankedTensorType>(op->getOperand(0).getType());
  auto outType = cast<RankedTensorType>(op->getResult(0).getType());
  if (inType.getRank() == 0)
    return op->emitOpError("input must have rank >= 1 to be split or "
                           "gathered along a dimension");
  if (dim < 0 || dim >= inType.getRank())
    return op->emitOpError() << "dim " << dim
                             << " is out of range for an input of rank "
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

/// Checks of the `dim` sizes against the group size: the result is the
/// input divided (split) or multiplied (gather) by the group size.
static LogicalResult verifyGroupShape(CollectiveOpInterface collective,
                                      GroupOp group) {
  Operation *op = collective;
  int64_t dim = *collective.getCollectiveDim();
  bool split = collective.splitsAlongDim();
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

LogicalResult
mlir::sp::verifyCollectiveSymbolUses(CollectiveOpInterface collective,
                                     SymbolTableCollection &tables) {
  FailureOr<GroupOp> group =
      verifyGroupSymbol(collective, collective.getGroupAttr(), tables);
  if (failed(group))
    return failure();
  if (!collective.getCollectiveDim())
    return success();
  return verifyGroupShape(collective, *group);
}

/// A collective over a group of one rank is the identity.
static bool isSingleRank(CollectiveOpInterface collective) {
  return collective.getGroupSize() == std::optional<int64_t>(1);
}

/// Folds a single-rank collective whose result type equals its input type.
static OpFoldResult foldSingleRank(CollectiveOpInterface collective) {
  Value input = collective.getInput();
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
  std::optional<ArrayRef<int64_t>> grid = getGrid(), axes = getAxes();
  if (grid.has_value() != axes.has_value())
    return emitOpError() << "takes a grid and the axes it spans together, "
                            "got only the "
                         << (grid ? "grid" : "axes");
  if (!grid)
    return success();
  if (grid->empty())
    return emitOpError("grid must have at least one axis");
  int64_t ranks = 1;
  for (auto [i, extent] : llvm::enumerate(*grid)) {
    if (extent < 1)
      return emitOpError() << "grid axis " << i << " has extent " << extent
                           << "; extents must be >= 1";
    if (llvm::MulOverflow(ranks, extent, ranks))
      return emitOpError("grid has more ranks than fit in 64 bits");
  }
  int64_t spanned = 1;
  llvm::SmallDenseSet<int64_t> seen;
  for (int64_t axis : *axes) {
    if (axis < 0 || axis >= static_cast<int64_t>(grid->size()))
      return emitOpError() << "axis " << axis << " is out of range for a "
                           << grid->size() << "-D grid";
    if (!seen.insert(axis).second)
      return emitOpError() << "axis " << axis << " is listed twice";
    spanned *= (*grid)[axis];
  }
  if (spanned != size)
    return emitOpError() << "size " << size
                         << " differs from the product of the spanned grid "
                            "axes' extents ("
                         << spanned << ")";
  return success();
}

int64_t GroupOp::getWorldSize() {
  if (std::optional<ArrayRef<int64_t>> grid = getGrid()) {
    int64_t ranks = 1;
    for (int64_t extent : *grid)
      ranks *= extent;
    return ranks;
  }
  return getSizeAttr().getInt();
}

//===----------------------------------------------------------------------===//
// AllReduceOp
//===----------------------------------------------------------------------===//

std::optional<int64_t> AllReduceOp::getCollectiveDim() { return std::nullopt; }

std::optional<ReductionKind> AllReduceOp::getReductionKind() {
  return getReduction();
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

std::optional<ReductionKind> ReduceScatterOp::getReductionKind() {
  return getReduction();
}

bool ReduceScatterOp::splitsAlongDim() { return true; }

OpFoldResult ReduceScatterOp::fold(FoldAdaptor) {
  return foldSingleRank(*this);
}

//===----------------------------------------------------------------------===//
// AllGatherOp
//===----------------------------------------------------------------------===//

OpFoldResult AllGatherOp::fold(FoldAdaptor) { return foldSingleRank(*this); }

//===----------------------------------------------------------------------===//
// AllSliceOp
//===----------------------------------------------------------------------===//

bool AllSliceOp::splitsAlongDim() { return true; }

OpFoldResult AllSliceOp::fold(FoldAdaptor adaptor) {
  if (OpFoldResult single = foldSingleRank(*this))
    return single;
  // Every rank's chunk of a splat is the smaller splat.
  if (auto splat = dyn_cast_or_null<SplatElementsAttr>(adaptor.getInput()))
    return SplatElementsAttr::get(getType(), splat.getSplatValue<Attribute>());
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

/// Checks of rms_norm and fused_add_rms_norm that no trait states: the
/// weight spans the last dimension and epsilon is positive. (Element types
/// and the weight's rank are checked by traits and type constraints.)
static LogicalResult verifyNorm(Operation *op, Type inputType,
                                Type weightType, FloatAttr epsilon) {
  auto input = cast<RankedTensorType>(inputType);
  auto weight = cast<RankedTensorType>(weightType);
  if (input.getRank() < 1)
    return op->emitOpError("input must have rank >= 1 (rows x hidden)");
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

bool RMSNormOp::isBroadcastAlongRows(unsigned index) { return index == 1; }
StringRef RMSNormOp::getOperandRole(unsigned index) {
  return index == 1 ? "weight" : "input";
}
bool FusedAddRMSNormOp::isBroadcastAlongRows(unsigned index) {
  return index == 2;
}
StringRef FusedAddRMSNormOp::getOperandRole(unsigned index) {
  return index == 2 ? "weight" : index == 1 ? "residual" : "input";
}
bool QuantOp::isBroadcastAlongRows(unsigned index) { return index == 1; }
StringRef QuantOp::getOperandRole(unsigned index) {
  return index == 1 ? "scale" : "input";
}

LogicalResult RMSNormOp::verify() {
  return verifyNorm(*this, getInput().getType(), getWeight().getType(),
                    getEpsilonAttr());
}

LogicalResult FusedAddRMSNormOp::verify() {
  return verifyNorm(*this, getInput().getType(), getWeight().getType(),
                    getEpsilonAttr());
}


//===----------------------------------------------------------------------===//
// Collective matmul
//===----------------------------------------------------------------------===//

static bool isQuantFP8(Type type) {
  return isa<Float8E4M3FNType, Float8E4M3FNUZType>(type);
}

/// Checks shared by both fused ops that need no group: the token dim, the
/// scales, the contraction and the element types.
static LogicalResult verifyCollectiveMatmul(Operation *op, int64_t dim,
                                            ValueRange scales, Value lhs,
                                            Value rhs, Value result) {
  if (dim != 0)
    return op->emitOpError() << "supports only dim 0 (the token dim of lhs), "
                                "got dim "
                             << dim;
  if (!scales.empty() && scales.size() != 2)
    return op->emitOpError() << "takes no scales or two (lhs, rhs), got "
                             << scales.size();
  auto lhsType = cast<RankedTensorType>(lhs.getType());
  auto rhsType = cast<RankedTensorType>(rhs.getType());
  auto resultType = cast<RankedTensorType>(result.getType());
  int64_t k = lhsType.getDimSize(1), rhsK = rhsType.getDimSize(0);
  if (!ShapedType::isDynamic(k) && !ShapedType::isDynamic(rhsK) && k != rhsK)
    return op->emitOpError() << "contracts lhs dimension 1 (" << k
                             << ") with rhs dimension 0 (" << rhsK
                             << "), which differ";
  int64_t n = rhsType.getDimSize(1), resultN = resultType.getDimSize(1);
  if (!ShapedType::isDynamic(n) && !ShapedType::isDynamic(resultN) &&
      n != resultN)
    return op->emitOpError() << "result dimension 1 (" << resultN
                             << ") must be rhs dimension 1 (" << n << ")";
  Type lhsElement = lhsType.getElementType(), rhsElement = rhsType.getElementType();
  Type resultElement = resultType.getElementType();
  if (scales.empty()) {
    // The plain form casts operands to the result type like linalg.matmul;
    // two float formats of one width (bf16 and f16) have no such cast.
    for (Type operand : {lhsElement, rhsElement}) {
      auto from = dyn_cast<FloatType>(operand);
      auto to = dyn_cast<FloatType>(resultElement);
      if (from && to && from != to && from.getWidth() == to.getWidth())
        return op->emitOpError()
               << "cannot cast " << operand << " operands to a "
               << resultElement
               << " result: same width, different formats; convert "
                  "the operands first";
    }
    return success();
  }
  if (!isQuantFP8(lhsElement) || !isQuantFP8(rhsElement))
    return op->emitOpError() << "with scales (the FP8 form) multiplies "
                                "f8E4M3FN or f8E4M3FNUZ operands, got "
                             << lhsElement << " and " << rhsElement;
  if (!resultElement.isBF16() && !resultElement.isF16() &&
      !resultElement.isF32())
    return op->emitOpError() << "with scales (the FP8 form) returns bf16, "
                                "f16 or f32, got "
                             << resultElement;
  return success();
}

/// Checks the row count of `sized` against `rows` and the group size:
/// sized rows = rows * size (gather) or rows / size (scatter).
static LogicalResult verifyRowsAgainstGroup(Operation *op, GroupOp group,
                                            StringRef what, Value sized,
                                            int64_t rows, bool gather) {
  int64_t size = group.getSizeAttr().getInt();
  int64_t actual = cast<RankedTensorType>(sized.getType()).getDimSize(0);
  if (ShapedType::isDynamic(rows))
    return success();
  if (!gather && rows % size != 0)
    return op->emitOpError() << "lhs rows (" << rows
                             << ") are not divisible by the size " << size
                             << " of group @" << group.getSymName();
  int64_t expected = gather ? rows * size : rows / size;
  if (!ShapedType::isDynamic(actual) && actual != expected)
    return op->emitOpError()
           << what << " dimension 0 must be " << rows
           << (gather ? " * " : " / ") << size << " = " << expected << ", got "
           << actual;
  return success();
}

Type AllGatherMatmulOp::getAccumulatorType() {
  return isScaled() ? Float32Type::get(getContext())
                    : getResult().getType().getElementType();
}

LogicalResult AllGatherMatmulOp::verify() {
  if (failed(verifyCollectiveMatmul(*this, getDim(), getScales(), getLhs(),
                                    getRhs(), getResult())))
    return failure();
  if (Value gathered = getGathered()) {
    auto lhsType = getLhs().getType();
    auto gatheredType = cast<RankedTensorType>(gathered.getType());
    if (gatheredType.getElementType() != lhsType.getElementType())
      return emitOpError() << "gathered element type "
                           << gatheredType.getElementType()
                           << " differs from lhs element type "
                           << lhsType.getElementType();
    int64_t k = lhsType.getDimSize(1), gk = gatheredType.getDimSize(1);
    if (!ShapedType::isDynamic(k) && !ShapedType::isDynamic(gk) && k != gk)
      return emitOpError() << "gathered dimension 1 (" << gk
                           << ") must be lhs dimension 1 (" << k << ")";
  }
  return success();
}

LogicalResult
AllGatherMatmulOp::verifySymbolUses(SymbolTableCollection &tables) {
  FailureOr<GroupOp> group = verifyGroupSymbol(*this, getGroupAttr(), tables);
  if (failed(group))
    return failure();
  int64_t rows = getLhs().getType().getDimSize(0);
  if (failed(verifyRowsAgainstGroup(*this, *group, "result", getResult(), rows,
                                    /*gather=*/true)))
    return failure();
  if (Value gathered = getGathered())
    return verifyRowsAgainstGroup(*this, *group, "gathered", gathered, rows,
                                  /*gather=*/true);
  return success();
}

Type MatmulReduceScatterOp::getAccumulatorType() {
  return isScaled() ? Float32Type::get(getContext())
                    : getResult().getType().getElementType();
}

LogicalResult MatmulReduceScatterOp::verify() {
  if (getReduction() != ReductionKind::sum)
    return emitOpError() << "supports only reduction sum, got "
                         << stringifyReductionKind(getReduction());
  return verifyCollectiveMatmul(*this, getDim(), getScales(), getLhs(),
                                getRhs(), getResult());
}

LogicalResult
MatmulReduceScatterOp::verifySymbolUses(SymbolTableCollection &tables) {
  FailureOr<GroupOp> group = verifyGroupSymbol(*this, getGroupAttr(), tables);
  if (failed(group))
    return failure();
  return verifyRowsAgainstGroup(*this, *group, "result", getResult(),
                                getLhs().getType().getDimSize(0),
                                /*gather=*/false);
}

//===----------------------------------------------------------------------===//
// Point to point
//===----------------------------------------------------------------------===//

LogicalResult RingShiftOp::verifySymbolUses(SymbolTableCollection &tables) {
  return verifyGroupSymbol(*this, getGroupAttr(), tables);
}

OpFoldResult RingShiftOp::fold(FoldAdaptor adaptor) {
  // No shift, or a single rank: every rank keeps its own value.
  if (auto offset = dyn_cast_or_null<IntegerAttr>(adaptor.getOffset()))
    if (std::optional<int64_t> size = getGroupSizeOf(*this, getGroupAttr()))
      if (*size > 0 && offset.getValue().getSExtValue() % *size == 0)
        return getInput();
  if (getGroupSizeOf(*this, getGroupAttr()) == std::optional<int64_t>(1))
    return getInput();
  return {};
}

LogicalResult GroupRankOp::verifySymbolUses(SymbolTableCollection &tables) {
  return verifyGroupSymbol(*this, getGroupAttr(), tables);
}

OpFoldResult GroupRankOp::fold(FoldAdaptor) {
  if (getGroupSizeOf(*this, getGroupAttr()) == std::optional<int64_t>(1))
    return IntegerAttr::get(IndexType::get(getContext()), 0);
  return {};
}

#include "sp/Dialect/SP/IR/SPInterfaces.cpp.inc"

#define GET_OP_CLASSES
#include "sp/Dialect/SP/IR/SPOps.cpp.inc"
