//===- ExpandFP8.cpp - fp8 conversions as integer arithmetic --------------===//
//
// Implements floatToFP8 / fp8ToFloat of include/sp/Runtime/Numerics.h with
// arith ops on i32, so that fp8 tensors can be produced and consumed by code
// lowered to LLVM (which has no fp8 types).
//
//===----------------------------------------------------------------------===//

#include "sp/Dialect/Arith/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::sp {
#define GEN_PASS_DEF_SPEXPANDFP8
#include "sp/Dialect/Arith/Transforms/Passes.h.inc"
} // namespace mlir::sp

using namespace mlir;

namespace {
bool isExpandedFP8(Type type) {
  return isa<Float8E4M3FNType, Float8E4M3FNUZType>(type);
}

/// `element`, or a vector of `element`s shaped like `like` if it is a vector.
Type shapedLike(Type like, Type element) {
  if (auto vector = dyn_cast<VectorType>(like))
    return vector.clone(element);
  return element;
}

/// A constant of `type` (a scalar, or a splat vector).
Value constant(OpBuilder &b, Location loc, Type type, TypedAttr scalar) {
  if (auto vector = dyn_cast<VectorType>(type))
    return arith::ConstantOp::create(b, loc,
                                     DenseElementsAttr::get(vector, scalar));
  return arith::ConstantOp::create(b, loc, scalar);
}

/// Integer-building helpers on i32 scalars or vectors of i32 (the shape of
/// `like`).
struct Int32Builder {
  Int32Builder(OpBuilder &b, Location loc, Type like)
      : b(b), loc(loc), i32(shapedLike(like, b.getI32Type())) {}
  Value c(uint32_t value) {
    return constant(b, loc, i32,
                    b.getI32IntegerAttr(static_cast<int32_t>(value)));
  }
  Value andi(Value x, uint32_t m) { return arith::AndIOp::create(b, loc, x, c(m)); }
  Value ori(Value x, Value y) { return arith::OrIOp::create(b, loc, x, y); }
  Value shl(Value x, uint32_t n) { return arith::ShLIOp::create(b, loc, x, c(n)); }
  Value shr(Value x, uint32_t n) { return arith::ShRUIOp::create(b, loc, x, c(n)); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
  Value cmp(arith::CmpIPredicate p, Value x, uint32_t y) {
    return arith::CmpIOp::create(b, loc, p, x, c(y));
  }
  Value select(Value cond, Value x, Value y) {
    return arith::SelectOp::create(b, loc, cond, x, y);
  }
  OpBuilder &b;
  Location loc;
  Type i32;
};

/// arith.extf %x : f8E4M3FN(UZ) to T  ->  bits -> f32 [-> T].
struct ExpandExtF : OpRewritePattern<arith::ExtFOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(arith::ExtFOp op,
                                PatternRewriter &rewriter) const override {
    Type sourceType = op.getIn().getType();
    Type source = getElementTypeOrSelf(sourceType);
    if (!isExpandedFP8(source))
      return failure();
    bool fnuz = isa<Float8E4M3FNUZType>(source);
    uint32_t bias = fnuz ? 8 : 7;
    Location loc = op.getLoc();
    Int32Builder i(rewriter, loc, sourceType);
    Type i32 = i.i32;
    Type f32 = shapedLike(sourceType, rewriter.getF32Type());
    Value byte = arith::BitcastOp::create(
        rewriter, loc, shapedLike(sourceType, rewriter.getI8Type()),
        op.getIn());
    Value w = arith::ExtUIOp::create(rewriter, loc, i32, byte);
    Value sign = i.shl(i.andi(w, 0x80), 24);
    Value exponent = i.andi(i.shr(w, 3), 0xF);
    Value mantissa = i.andi(w, 0x7);
    Value normal = i.ori(
        sign, i.ori(i.shl(i.add(exponent, i.c(127 - bias)), 23),
                    i.shl(mantissa, 20)));
    // Subnormal: mantissa * 2^(1 - bias - 3), exact in f32.
    Value asFloat = arith::UIToFPOp::create(rewriter, loc, f32, mantissa);
    Value unit = constant(
        rewriter, loc, f32,
        rewriter.getF32FloatAttr(fnuz ? 0.0009765625f : 0.001953125f));
    Value subnormalMagnitude = arith::BitcastOp::create(
        rewriter, loc, i32, arith::MulFOp::create(rewriter, loc, asFloat, unit));
    Value subnormal = i.ori(sign, subnormalMagnitude);
    Value isNaN = fnuz ? i.cmp(arith::CmpIPredicate::eq, w, 0x80)
                       : i.cmp(arith::CmpIPredicate::eq, i.andi(w, 0x7F), 0x7F);
    Value nan = fnuz ? i.c(0x7FC00000u) : i.ori(i.c(0x7FC00000u), sign);
    Value isSubnormal = i.cmp(arith::CmpIPredicate::eq, exponent, 0);
    Value bits =
        i.select(isNaN, nan, i.select(isSubnormal, subnormal, normal));
    Value result = arith::BitcastOp::create(rewriter, loc, f32, bits);
    Type target = op.getType();
    if (!getElementTypeOrSelf(target).isF32())
      result = getElementTypeOrSelf(target).getIntOrFloatBitWidth() < 32
                   ? arith::TruncFOp::create(rewriter, loc, target, result)
                         .getResult() // exact: fp8 values fit bf16 and f16
                   : arith::ExtFOp::create(rewriter, loc, target, result)
                         .getResult();
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// arith.truncf %x : T to f8E4M3FN(UZ): round to nearest even on the f32
/// bits; NaN, infinity and overflow give NaN.
struct ExpandTruncF : OpRewritePattern<arith::TruncFOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(arith::TruncFOp op,
                                PatternRewriter &rewriter) const override {
    Type targetType = op.getType();
    Type target = getElementTypeOrSelf(targetType);
    if (!isExpandedFP8(target))
      return failure();
    bool fnuz = isa<Float8E4M3FNUZType>(target);
    uint32_t bias = fnuz ? 8 : 7;
    Location loc = op.getLoc();
    Int32Builder i(rewriter, loc, targetType);
    Type i32 = i.i32;
    Type f32 = shapedLike(targetType, rewriter.getF32Type());

    Value input = op.getIn();
    Type inputElement = getElementTypeOrSelf(input.getType());
    if (!inputElement.isF32())
      input = inputElement.getIntOrFloatBitWidth() < 32
                  ? arith::ExtFOp::create(rewriter, loc, f32, input).getResult()
                  : arith::TruncFOp::create(rewriter, loc, f32, input)
                        .getResult();
    Value u = arith::BitcastOp::create(rewriter, loc, i32, input);
    Value sign = i.andi(i.shr(u, 24), 0x80);
    Value abs = i.andi(u, 0x7FFFFFFF);
    Value nan = fnuz ? i.c(0x80) : i.ori(sign, i.c(0x7F));

    // Normal range: round the f32 mantissa to 3 bits, then rebias.
    Value lsb = i.andi(i.shr(abs, 20), 1);
    Value rounded = i.add(i.add(abs, i.c(0x7FFFF)), lsb);
    Value code = i.sub(i.shr(rounded, 20), i.c((127 - bias) << 3));
    Value overflow =
        i.cmp(arith::CmpIPredicate::ugt, code, fnuz ? 0x7F : 0x7E);
    // Subnormal range: count units of 2^(1 - bias - 3).
    Value magnitude = arith::BitcastOp::create(rewriter, loc, f32, abs);
    Value scaled = arith::MulFOp::create(
        rewriter, loc, magnitude,
        constant(rewriter, loc, f32,
                 rewriter.getF32FloatAttr(fnuz ? 1024.0f : 512.0f)));
    Value units = arith::FPToUIOp::create(
        rewriter, loc, i32, math::RoundEvenOp::create(rewriter, loc, scaled));
    Value isNormal =
        i.cmp(arith::CmpIPredicate::uge, abs, (127 + 1 - bias) << 23);
    Value mag = i.select(isNormal, code, units);
    Value withSign = i.ori(sign, mag);
    if (fnuz) // no negative zero
      withSign = i.select(i.cmp(arith::CmpIPredicate::eq, mag, 0), i.c(0),
                          withSign);
    Value isNaNOrInf = i.cmp(arith::CmpIPredicate::uge, abs, 0x7F800000);
    Value bad = arith::OrIOp::create(
        rewriter, loc, isNaNOrInf,
        arith::AndIOp::create(rewriter, loc, isNormal, overflow));
    Value bits = i.select(bad, nan, withSign);
    Value byte = arith::TruncIOp::create(
        rewriter, loc, shapedLike(targetType, rewriter.getI8Type()), bits);
    rewriter.replaceOpWithNewOp<arith::BitcastOp>(op, targetType, byte);
    return success();
  }
};

struct ExpandFP8Pass : public sp::impl::SPExpandFP8Base<ExpandFP8Pass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<ExpandExtF, ExpandTruncF>(&getContext());
    GreedyRewriteConfig config;
    config.enableFolding(false);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns),
                                     config)))
      return signalPassFailure();
    // Anything left (tensor conversions) cannot be lowered.
    WalkResult result = getOperation()->walk([](Operation *op) {
      if (isa<arith::ExtFOp, arith::TruncFOp>(op) &&
          (isExpandedFP8(getElementTypeOrSelf(op->getOperand(0).getType())) ||
           isExpandedFP8(getElementTypeOrSelf(op->getResult(0).getType())))) {
        op->emitOpError("sp-expand-fp8 handles scalar and vector "
                        "conversions only; bufferize tensors first");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
