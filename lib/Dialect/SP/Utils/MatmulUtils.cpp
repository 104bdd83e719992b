//===- MatmulUtils.cpp - the GEMMs the collective matmul ops fuse ---------===//

#include "sp/Dialect/SP/Utils/MatmulUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::sp;

static bool isPositiveZero(Attribute attr) {
  auto value = dyn_cast_or_null<FloatAttr>(attr);
  return value && value.getValue().isPosZero();
}

bool mlir::sp::isPositiveZeroTensor(Value value) {
  if (auto fill = value.getDefiningOp<linalg::FillOp>()) {
    Attribute scalar;
    return matchPattern(fill.getInputs()[0], m_Constant(&scalar)) &&
           isPositiveZero(scalar);
  }
  DenseElementsAttr dense;
  if (matchPattern(value, m_Constant(&dense)) && dense.isSplat() &&
      isa<FloatType>(dense.getElementType()))
    return dense.getSplatValue<APFloat>().isPosZero();
  return false;
}

std::string mlir::sp::whyNotPlainMatmul(linalg::MatmulOp matmul) {
  if (matmul.hasUserDefinedMaps())
    return "it has its own indexing maps (a transposed or broadcast operand)";
  if (matmul.getNumDpsInputs() != 2 || matmul.getNumDpsInits() != 1 ||
      matmul->getNumResults() != 1)
    return "it is not a GEMM on tensors";
  for (Value operand : matmul->getOperands()) {
    auto type = dyn_cast<RankedTensorType>(operand.getType());
    if (!type || type.getRank() != 2 ||
        !isa<FloatType>(type.getElementType()))
      return "its operands are not 2-D float tensors";
  }
  if (!isPositiveZeroTensor(matmul.getDpsInits()[0]))
    return "its accumulator does not start at +0 (not a zero fill)";
  return "";
}

std::optional<ScaleEpilogue> mlir::sp::matchScaleEpilogue(Operation *op) {
  auto generic = dyn_cast_or_null<linalg::GenericOp>(op);
  if (!generic || generic.getNumDpsInputs() != 3 ||
      generic.getNumDpsInits() != 1 || generic->getNumResults() != 1 ||
      generic.getNumReductionLoops() != 0)
    return std::nullopt;
  auto accType = dyn_cast<RankedTensorType>(generic.getDpsInputs()[0].getType());
  auto outType = dyn_cast<RankedTensorType>(generic->getResult(0).getType());
  if (!accType || !outType || accType.getRank() != 2 ||
      !accType.getElementType().isF32() ||
      accType.getShape() != outType.getShape())
    return std::nullopt;
  // getDpsInputs() returns a vector by value: keep it alive for the loop.
  SmallVector<Value> inputs = generic.getDpsInputs();
  for (Value scale : llvm::drop_begin(inputs)) {
    auto type = dyn_cast<RankedTensorType>(scale.getType());
    if (!type || type.getRank() != 0 || !type.getElementType().isF32())
      return std::nullopt;
  }
  // acc and out by the identity, the scales as scalars.
  SmallVector<AffineMap> maps = generic.getIndexingMapsArray();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(2, op->getContext());
  if (maps[0] != identity || maps[3] != identity ||
      maps[1].getNumResults() != 0 || maps[2].getNumResults() != 0)
    return std::nullopt;
  // ^bb(%acc, %sa, %sb, %out): %s = sa * sb; %v = acc * s; yield T(v)
  Block &body = generic.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  Value result = yield.getValues()[0];
  Type outElement = outType.getElementType();
  if (!outElement.isF32()) {
    auto trunc = result.getDefiningOp<arith::TruncFOp>();
    if (!trunc || trunc.getType() != outElement)
      return std::nullopt;
    result = trunc.getIn();
  }
  auto scaled = result.getDefiningOp<arith::MulFOp>();
  if (!scaled || scaled.getLhs() != body.getArgument(0))
    return std::nullopt;
  auto product = scaled.getRhs().getDefiningOp<arith::MulFOp>();
  if (!product || product.getLhs() != body.getArgument(1) ||
      product.getRhs() != body.getArgument(2))
    return std::nullopt;
  // Nothing else in the body (fast-math flags would change the numerics).
  if (scaled.getFastmath() != arith::FastMathFlags::none ||
      product.getFastmath() != arith::FastMathFlags::none ||
      body.getOperations().size() != (outElement.isF32() ? 3u : 4u))
    return std::nullopt;
  return ScaleEpilogue{generic, generic.getDpsInputs()[0],
                       generic.getDpsInputs()[1], generic.getDpsInputs()[2]};
}

/// A tensor of +0.0 of `shape` x `element`.
static Value zeros(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> shape,
                   Type element) {
  Value empty = tensor::EmptyOp::create(b, loc, shape, element);
  Value zero = arith::ConstantOp::create(b, loc, b.getFloatAttr(element, 0.0));
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

Value mlir::sp::buildCollectiveGemm(OpBuilder &b, Location loc, Value lhs,
                                    Value rhs, ValueRange scales,
                                    Type resultElement) {
  SmallVector<OpFoldResult> shape{tensor::getMixedSize(b, loc, lhs, 0),
                                  tensor::getMixedSize(b, loc, rhs, 1)};
  Type accElement = scales.empty() ? resultElement : b.getF32Type();
  Value init = zeros(b, loc, shape, accElement);
  Value acc = linalg::MatmulOp::create(b, loc, ValueRange{lhs, rhs},
                                       ValueRange{init})
                  .getResult(0);
  if (scales.empty())
    return acc;
  AffineMap identity = b.getMultiDimIdentityMap(2);
  AffineMap scalar = AffineMap::get(2, 0, {}, b.getContext());
  Value out = tensor::EmptyOp::create(b, loc, shape, resultElement);
  return linalg::GenericOp::create(
             b, loc, out.getType(), ValueRange{acc, scales[0], scales[1]},
             ValueRange{out},
             ArrayRef<AffineMap>{identity, scalar, scalar, identity},
             SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               Value scale = arith::MulFOp::create(nb, nl, args[1], args[2]);
               Value value = arith::MulFOp::create(nb, nl, args[0], scale);
               if (!resultElement.isF32())
                 value = arith::TruncFOp::create(nb, nl, resultElement, value);
               linalg::YieldOp::create(nb, nl, value);
             })
      .getResult(0);
}

Value mlir::sp::buildRankOrderSum(OpBuilder &b, Location loc, Value partials) {
  auto type = cast<RankedTensorType>(partials.getType());
  Type element = type.getElementType();
  Type acc = element.isF64() ? element : b.getF32Type();
  int64_t n = type.getDimSize(0);
  SmallVector<OpFoldResult> rowShape{tensor::getMixedSize(b, loc, partials, 1),
                                     tensor::getMixedSize(b, loc, partials, 2)};
  auto slice = [&](int64_t from, int64_t count) {
    SmallVector<OpFoldResult> offsets{b.getIndexAttr(from), b.getIndexAttr(0),
                                      b.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes{b.getIndexAttr(count), rowShape[0],
                                    rowShape[1]};
    SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(b, loc, partials, offsets, sizes,
                                          strides)
        .getResult();
  };
  auto convert = [&](OpBuilder &nb, Location nl, Value v, Type to) -> Value {
    Type from = v.getType();
    if (from == to)
      return v;
    if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
      return arith::ExtFOp::create(nb, nl, to, v);
    return arith::TruncFOp::create(nb, nl, to, v);
  };
  AffineMap id2 = b.getMultiDimIdentityMap(2);
  auto parallel2 =
      SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel);
  // acc = partials[0] in the accumulation type.
  Value first = tensor::CollapseShapeOp::create(
      b, loc, slice(0, 1), SmallVector<ReassociationIndices>{{0, 1}, {2}});
  Value accInit = tensor::EmptyOp::create(b, loc, rowShape, acc);
  Value sum =
      linalg::GenericOp::create(
          b, loc, accInit.getType(), ValueRange{first}, ValueRange{accInit},
          ArrayRef<AffineMap>{id2, id2}, parallel2,
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            linalg::YieldOp::create(nb, nl, convert(nb, nl, args[0], acc));
          })
          .getResult(0);
  // acc += partials[k] for k = 1 .. n-1, k innermost (rank order).
  if (n > 1) {
    MLIRContext *ctx = b.getContext();
    AffineMap in = AffineMap::get(
        3, 0, {b.getAffineDimExpr(2), b.getAffineDimExpr(0), b.getAffineDimExpr(1)},
        ctx);
    AffineMap out =
        AffineMap::get(3, 0, {b.getAffineDimExpr(0), b.getAffineDimExpr(1)}, ctx);
    sum = linalg::GenericOp::create(
              b, loc, sum.getType(), ValueRange{slice(1, n - 1)},
              ValueRange{sum}, ArrayRef<AffineMap>{in, out},
              {utils::IteratorType::parallel, utils::IteratorType::parallel,
               utils::IteratorType::reduction},
              [&](OpBuilder &nb, Location nl, ValueRange args) {
                Value v = convert(nb, nl, args[0], acc);
                Value added = arith::AddFOp::create(nb, nl, args[1], v);
                linalg::YieldOp::create(nb, nl, added);
              })
              .getResult(0);
  }
  Value outInit = tensor::EmptyOp::create(b, loc, rowShape, element);
  return linalg::GenericOp::create(
             b, loc, outInit.getType(), ValueRange{sum}, ValueRange{outInit},
             ArrayRef<AffineMap>{id2, id2}, parallel2,
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               linalg::YieldOp::create(nb, nl,
                                       convert(nb, nl, args[0], element));
             })
      .getResult(0);
}
