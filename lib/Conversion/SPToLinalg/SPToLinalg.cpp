//===- SPToLinalg.cpp - sp's row-wise ops as linalg.generic --------------===//
//
// The numerics are those of include/sp/Runtime/Numerics.h; keep the two in
// step (the unit tests compare them bit for bit).
//
//===----------------------------------------------------------------------===//

#include "sp/Conversion/SPToLinalg/SPToLinalg.h"

#include "sp/Dialect/SP/IR/SPOps.h"
#include "sp/Dialect/SP/Utils/MatmulUtils.h"
#include "sp/Runtime/Numerics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::sp {
#define GEN_PASS_DEF_SPDECOMPOSETOLINALG
#include "sp/Conversion/Passes.h.inc"
} // namespace mlir::sp

using namespace mlir;
using namespace mlir::sp;

/// Widens (or narrows, for f64) an activation scalar to f32, the working type
/// of every computation.
static Value toF32(OpBuilder &b, Location loc, Value value) {
  Type type = value.getType();
  if (type.isF32())
    return value;
  if (type.getIntOrFloatBitWidth() < 32)
    return arith::ExtFOp::create(b, loc, b.getF32Type(), value);
  return arith::TruncFOp::create(b, loc, b.getF32Type(), value);
}

/// Rounds an f32 scalar to the activation type (round to nearest even).
static Value fromF32(OpBuilder &b, Location loc, Value value, Type type) {
  if (type.isF32())
    return value;
  if (type.getIntOrFloatBitWidth() < 32)
    return arith::TruncFOp::create(b, loc, type, value);
  return arith::ExtFOp::create(b, loc, type, value);
}

static Value f32Constant(OpBuilder &b, Location loc, float value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

namespace {
/// Maps used by the row-wise generics of a rank-R tensor.
struct RowMaps {
  RowMaps(OpBuilder &b, int64_t rank) {
    MLIRContext *context = b.getContext();
    identity = b.getMultiDimIdentityMap(rank);
    SmallVector<AffineExpr> rowDims;
    for (int64_t i = 0; i + 1 < rank; ++i)
      rowDims.push_back(b.getAffineDimExpr(i));
    row = AffineMap::get(rank, 0, rowDims, context);
    last = AffineMap::get(rank, 0, b.getAffineDimExpr(rank - 1), context);
    rowIdentity = b.getMultiDimIdentityMap(rank - 1);
  }
  AffineMap identity, row, last, rowIdentity;
};
} // namespace

/// RMSNorm of `input` over its last dimension:
///   ss = sum(float(x)^2); inv = 1 / sqrt(ss / H + eps); T(T(float(x) * inv) * w)
static Value buildRMSNorm(OpBuilder &b, Location loc, Value input,
                          Value weight, float epsilon) {
  auto type = cast<RankedTensorType>(input.getType());
  int64_t rank = type.getRank();
  Type element = type.getElementType();
  Type f32 = b.getF32Type();
  RowMaps maps(b, rank);

  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, input);
  SmallVector<OpFoldResult> rowSizes(sizes.begin(), sizes.end() - 1);
  Value rows = tensor::EmptyOp::create(b, loc, rowSizes, f32);
  Value zeros =
      linalg::FillOp::create(b, loc, f32Constant(b, loc, 0.0f), rows)
          .getResult(0);

  // Sum of squares, in f32; the reduction runs in index order once lowered
  // to loops, as in the reference.
  SmallVector<utils::IteratorType> reduceIterators(
      rank, utils::IteratorType::parallel);
  reduceIterators.back() = utils::IteratorType::reduction;
  Value sumOfSquares =
      linalg::GenericOp::create(
          b, loc, rows.getType(), ValueRange{input}, ValueRange{zeros},
          ArrayRef<AffineMap>{maps.identity, maps.row}, reduceIterators,
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Value x = toF32(nb, nl, args[0]);
            Value square = arith::MulFOp::create(nb, nl, x, x);
            Value sum = arith::AddFOp::create(nb, nl, args[1], square);
            linalg::YieldOp::create(nb, nl, sum);
          })
          .getResult(0);

  // H as f32 (exact for H < 2^24).
  Value hidden;
  int64_t staticHidden = type.getDimSize(rank - 1);
  if (!ShapedType::isDynamic(staticHidden)) {
    hidden = f32Constant(b, loc, static_cast<float>(staticHidden));
  } else {
    Value dim = tensor::DimOp::create(b, loc, input, rank - 1);
    Value asInt = arith::IndexCastUIOp::create(b, loc, b.getI64Type(), dim);
    hidden = arith::UIToFPOp::create(b, loc, f32, asInt);
  }
  Value eps = f32Constant(b, loc, epsilon);
  Value one = f32Constant(b, loc, 1.0f);

  SmallVector<utils::IteratorType> rowIterators(rank - 1,
                                                utils::IteratorType::parallel);
  Value inverse =
      linalg::GenericOp::create(
          b, loc, rows.getType(), ValueRange{sumOfSquares}, ValueRange{rows},
          ArrayRef<AffineMap>{maps.rowIdentity, maps.rowIdentity},
          rowIterators,
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Value mean = arith::DivFOp::create(nb, nl, args[0], hidden);
            Value shifted = arith::AddFOp::create(nb, nl, mean, eps);
            Value root = math::SqrtOp::create(nb, nl, shifted);
            Value inv = arith::DivFOp::create(nb, nl, one, root);
            linalg::YieldOp::create(nb, nl, inv);
          })
          .getResult(0);

  Value out = tensor::EmptyOp::create(b, loc, sizes, element);
  SmallVector<utils::IteratorType> parallel(rank,
                                            utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, out.getType(), ValueRange{input, inverse, weight},
             ValueRange{out},
             ArrayRef<AffineMap>{maps.identity, maps.row, maps.last,
                                 maps.identity},
             parallel,
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               Value scaled =
                   arith::MulFOp::create(nb, nl, toF32(nb, nl, args[0]), args[1]);
               Value normed = fromF32(nb, nl, scaled, element);
               Value product = arith::MulFOp::create(
                   nb, nl, toF32(nb, nl, normed), toF32(nb, nl, args[2]));
               linalg::YieldOp::create(nb, nl,
                                       fromF32(nb, nl, product, element));
             })
      .getResult(0);
}

/// An elementwise linalg.generic over `inputs` (all shaped like the first)
/// producing a new tensor of `element`s; `body` maps the scalars to the
/// result scalar.
static Value buildElementwise(
    OpBuilder &b, Location loc, ValueRange inputs, Type element,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  auto type = cast<RankedTensorType>(inputs.front().getType());
  Value empty = tensor::EmptyOp::create(
      b, loc, tensor::getMixedSizes(b, loc, inputs.front()), element);
  SmallVector<AffineMap> maps(inputs.size() + 1,
                              b.getMultiDimIdentityMap(type.getRank()));
  SmallVector<utils::IteratorType> parallel(type.getRank(),
                                            utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, empty.getType(), inputs, ValueRange{empty}, maps,
             parallel,
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               linalg::YieldOp::create(
                   nb, nl, body(nb, nl, args.drop_back()));
             })
      .getResult(0);
}

namespace {
struct DecomposeRMSNorm : OpRewritePattern<RMSNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RMSNormOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, buildRMSNorm(rewriter, op.getLoc(), op.getInput(),
                                        op.getWeight(),
                                        op.getEpsilon().convertToFloat()));
    return success();
  }
};

struct DecomposeFusedAddRMSNorm : OpRewritePattern<FusedAddRMSNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(FusedAddRMSNormOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type element = op.getInput().getType().getElementType();
    // z = T(x + r): the norm reads the rounded sum, as the kernels do.
    Value sum = buildElementwise(
        rewriter, loc, ValueRange{op.getInput(), op.getResidual()}, element,
        [&](OpBuilder &nb, Location nl, ValueRange args) {
          Value added = arith::AddFOp::create(nb, nl, toF32(nb, nl, args[0]),
                                              toF32(nb, nl, args[1]));
          return fromF32(nb, nl, added, element);
        });
    Value normed = buildRMSNorm(rewriter, loc, sum, op.getWeight(),
                                op.getEpsilon().convertToFloat());
    rewriter.replaceOp(op, {normed, sum});
    return success();
  }
};

struct DecomposeQuant : OpRewritePattern<QuantOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(QuantOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getResult().getType());
    auto fp8 = cast<FloatType>(type.getElementType());
    auto kind = isa<Float8E4M3FNUZType>(fp8) ? numerics::FP8Kind::E4M3FNUZ
                                             : numerics::FP8Kind::E4M3FN;
    float clamp = numerics::fp8QuantClamp(kind);
    Value scale = tensor::ExtractOp::create(rewriter, loc, op.getScale());
    Value inverse = arith::DivFOp::create(
        rewriter, loc, f32Constant(rewriter, loc, 1.0f), scale);
    Value low = f32Constant(rewriter, loc, -clamp);
    Value high = f32Constant(rewriter, loc, clamp);
    // NaN inputs give the canonical NaN (documented in Numerics.h).
    Value nan = arith::ConstantOp::create(
        rewriter, loc,
        rewriter.getFloatAttr(fp8, APFloat::getNaN(fp8.getFloatSemantics())));
    Value quantized = buildElementwise(
        rewriter, loc, ValueRange{op.getInput()}, fp8,
        [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
          Value v =
              arith::MulFOp::create(nb, nl, toF32(nb, nl, args[0]), inverse);
          Value clamped = arith::MinimumFOp::create(
              nb, nl, arith::MaximumFOp::create(nb, nl, v, low), high);
          Value q = arith::TruncFOp::create(nb, nl, fp8, clamped);
          Value isNaN =
              arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::UNO, v, v);
          return arith::SelectOp::create(nb, nl, isNaN, nan, q);
        });
    rewriter.replaceOp(op, quantized);
    return success();
  }
};

/// all_gather_matmul(x, w) -> matmul(all_gather(x), w): the GEMM the fused
/// op stands for, on the gathered rows, with its exact numerics.
struct ExpandAllGatherMatmul : OpRewritePattern<AllGatherMatmulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AllGatherMatmulOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto lhsType = op.getLhs().getType();
    int64_t rows = op.getResult().getType().getDimSize(0);
    auto gatheredType =
        RankedTensorType::get({rows, lhsType.getDimSize(1)},
                              lhsType.getElementType());
    Value gathered =
        AllGatherOp::create(rewriter, loc, gatheredType, op.getLhs(),
                            op.getGroupAttr(), op.getDimAttr());
    Value product = buildCollectiveGemm(
        rewriter, loc, gathered, op.getRhs(), op.getScales(),
        op.getResult().getType().getElementType());
    SmallVector<Value> results{product};
    if (op.getGathered())
      results.push_back(gathered);
    rewriter.replaceOp(op, results);
    return success();
  }
};

/// matmul_reduce_scatter(h, w) -> reduce_scatter(matmul(h, w)).
struct ExpandMatmulReduceScatter : OpRewritePattern<MatmulReduceScatterOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MatmulReduceScatterOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value product = buildCollectiveGemm(
        rewriter, loc, op.getLhs(), op.getRhs(), op.getScales(),
        op.getResult().getType().getElementType());
    rewriter.replaceOpWithNewOp<ReduceScatterOp>(
        op, op.getResult().getType(), product, op.getGroupAttr(),
        op.getDimAttr(), op.getReductionAttr());
    return success();
  }
};

struct DecomposeToLinalgPass
    : public mlir::sp::impl::SPDecomposeToLinalgBase<DecomposeToLinalgPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateSPToLinalgPatterns(patterns);
    GreedyRewriteConfig config;
    config.enableFolding(false);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns),
                                     config)))
      return signalPassFailure();
  }
};
} // namespace

void mlir::sp::populateSPToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<DecomposeRMSNorm, DecomposeFusedAddRMSNorm, DecomposeQuant,
               ExpandAllGatherMatmul, ExpandMatmulReduceScatter>(
      patterns.getContext());
}
