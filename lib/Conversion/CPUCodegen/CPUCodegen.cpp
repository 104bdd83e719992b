//===- CPUCodegen.cpp - tiled, vectorized CPU code for linalg -------------===//
//
// sp's CPU backend is the oracle of every differential test, so its vector
// code computes exactly what convert-linalg-to-loops computes: every output
// element performs the same arithmetic operations, in the same order, with
// the same roundings. Lanes only ever hold independent outputs (columns of a
// matmul, elements of an elementwise op, rows of a row-wise reduction); a
// reduction dimension is never split across lanes and is never reordered
// (splitting or tiling it keeps its index order), and mulf + addf are never
// contracted to an FMA (no vector.contract is formed, and LLVM does not fuse
// instructions without the `contract` flag).
//
//===----------------------------------------------------------------------===//

#include "sp/Conversion/CPUCodegen/CPUCodegen.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Hoisting.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/TilingInterface.h"
#include "mlir/IR/Dominance.h"
#include "mlir/Transforms/CSE.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/LoopInvariantCodeMotionUtils.h"

#include "llvm/TargetParser/Host.h"

namespace mlir::sp {
#define GEN_PASS_DEF_SPCPUVECTORIZE
#define GEN_PASS_DEF_SPCPULOWERVECTORS
#include "sp/Conversion/Passes.h.inc"
} // namespace mlir::sp

using namespace mlir;
using namespace mlir::sp;

unsigned mlir::sp::hostVectorBits() {
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  if (features.lookup("avx512f"))
    return 512;
  if (features.lookup("avx"))
    return 256;
  return 128;
}

namespace {
/// Largest divisor of `n` that is at most `limit` (at least 1).
int64_t largestDivisorAtMost(int64_t n, int64_t limit) {
  for (int64_t d = std::min(n, limit); d > 1; --d)
    if (n % d == 0)
      return d;
  return 1;
}

/// A plain row-major GEMM C[m, n] += A[m, k] * B[k, n].
bool isPlainMatmul(linalg::LinalgOp op) {
  auto matmul = dyn_cast<linalg::MatmulOp>(op.getOperation());
  return matmul && !matmul.hasUserDefinedMaps() &&
         isa<FloatType>(getElementTypeOrSelf(matmul.getDpsInits()[0]));
}

struct Vectorizer {
  Vectorizer(RewriterBase &rewriter, unsigned vectorBits, int64_t matmulRows)
      : rewriter(rewriter), lanes(std::max<int64_t>(vectorBits / 32, 1)),
        matmulRows(std::max<int64_t>(matmulRows, 1)) {}

  /// The register tile of `op` (one size per loop; 1 = one iteration per
  /// step), or nothing if `op` is left to the scalar loops.
  std::optional<SmallVector<int64_t>> registerTile(linalg::LinalgOp op) {
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
    int64_t rank = ranges.size();
    if (rank == 0)
      return std::nullopt;
    SmallVector<int64_t> tile(rank, 1);
    if (isPlainMatmul(op)) {
      // Lanes across N; a few rows share each loaded vector of B; K one step
      // at a time, so each output accumulates in index order.
      tile = {matmulRows, 2 * lanes, 1};
    } else if (iterators.back() == utils::IteratorType::parallel) {
      // Lanes along the innermost parallel loop; every other loop (a
      // reduction included) one step at a time.
      tile.back() = 4 * lanes;
    } else {
      // Innermost loop a reduction: lanes across the innermost parallel
      // loop (rows), each lane reducing its row in order.
      int64_t parallel = -1;
      for (int64_t d = 0; d < rank; ++d)
        if (iterators[d] == utils::IteratorType::parallel)
          parallel = d;
      if (parallel < 0)
        return std::nullopt;
      tile[parallel] = lanes;
      tile.back() = lanes;
    }
    for (int64_t d = 0; d < rank; ++d)
      if (ShapedType::isDynamic(ranges[d]))
        tile[d] = 1;
    return tile;
  }

  /// Splits, tiles and vectorizes `op`; ops it cannot handle stay as they
  /// are (convert-linalg-to-loops lowers them).
  void run(linalg::LinalgOp op) {
    if (!op.hasPureTensorSemantics() ||
        failed(linalg::vectorizeOpPrecondition(op)))
      return;
    // Only bodies of arith ops (and math.sqrt, correctly rounded) are
    // vectorized: the vector forms of other math functions (exp, rsqrt,
    // fpowi) are not checked to round like their scalar forms (a torch-mlir
    // fixture with exp and rsqrt differed), so those ops keep their loops.
    if (op.getBlock()
            ->walk([](Operation *inner) {
              bool allowed =
                  isa<arith::ArithDialect>(inner->getDialect()) ||
                  isa<math::SqrtOp, linalg::YieldOp>(inner);
              return allowed ? WalkResult::advance()
                             : WalkResult::interrupt();
            })
            .wasInterrupted())
      return;
    // No operand of a type narrower than a byte: LLVM stores a vector of i1
    // as packed bits, but a memref<...xi1> holds one byte per element, so a
    // vectorized transfer of an i1 tensor (torch-mlir's causal masks) reads
    // and writes the wrong bytes.
    if (llvm::any_of(op->getOperandTypes(), [](Type type) {
          Type element = getElementTypeOrSelf(type);
          return !element.isIntOrIndexOrFloat() ||
                 (!element.isIndex() &&
                  element.getIntOrFloatBitWidth() % 8 != 0);
        }))
      return;
    // Only the forms sp's decompositions emit and the tests check: plain
    // matmuls, fills, and generics whose operands are read in loop order
    // (identity or broadcast maps, no transposes).
    if (!isPlainMatmul(op) && !isa<linalg::FillOp, linalg::GenericOp>(op))
      return;
    for (AffineMap map : op.getIndexingMapsArray()) {
      if (isPlainMatmul(op))
        break;
      int64_t last = -1;
      for (AffineExpr expr : map.getResults()) {
        auto dim = dyn_cast<AffineDimExpr>(expr);
        if (!dim || static_cast<int64_t>(dim.getPosition()) <= last)
          return;
        last = dim.getPosition();
      }
    }
    std::optional<SmallVector<int64_t>> maybeTile = registerTile(op);
    if (!maybeTile)
      return;
    SmallVector<int64_t> tile = *maybeTile;
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();

    // Split off the remainder of every loop that the tile does not divide;
    // each part is processed again (the remainder's tile is its size).
    // Splitting a reduction loop runs its first part to completion before
    // the second, so the order of the reduction is kept.
    for (auto [d, size] : llvm::enumerate(ranges)) {
      if (ShapedType::isDynamic(size) || tile[d] <= 1 || size <= tile[d] ||
          size % tile[d] == 0)
        continue;
      rewriter.setInsertionPoint(op);
      auto [first, second] = linalg::splitOp(
          rewriter, cast<TilingInterface>(op.getOperation()), d,
          rewriter.getIndexAttr(size / tile[d] * tile[d]));
      if (!first || !second)
        return;
      run(cast<linalg::LinalgOp>(first.getOperation()));
      run(cast<linalg::LinalgOp>(second.getOperation()));
      return;
    }
    for (auto [d, size] : llvm::enumerate(ranges))
      if (!ShapedType::isDynamic(size))
        tile[d] = std::min(tile[d], size);

    if (isPlainMatmul(op) && !ShapedType::isDynamic(ranges[1]) &&
        !ShapedType::isDynamic(ranges[2])) {
      // Cache blocks: a Kc x Nc panel of B stays in L2 while every row
      // block of A passes over it. Loops n, k (k blocks in order, so each
      // output still sees k = 0, 1, ... in order).
      int64_t n = ranges[1], k = ranges[2];
      int64_t nc = tile[1] * largestDivisorAtMost(n / tile[1],
                                                  512 / tile[1]);
      int64_t kc = largestDivisorAtMost(k, 256);
      if (kc < 64)
        kc = k;
      if (nc < n || kc < k) {
        FailureOr<linalg::LinalgOp> inner =
            tile_(op, {0, nc < n ? nc : 0, kc < k ? kc : 0});
        if (failed(inner))
          return;
        op = *inner;
      }
      if (n >= 256 && k >= 256)
        op = pack(op);
    }
    SmallVector<int64_t> sizes;
    ranges = op.getStaticLoopRanges();
    for (auto [d, size] : llvm::enumerate(ranges))
      sizes.push_back(size == tile[d] ? 0 : tile[d]);
    FailureOr<linalg::LinalgOp> tiled = tile_(op, sizes);
    if (failed(tiled))
      return;
    if (!llvm::all_of((*tiled).getStaticLoopRanges(),
                      [](int64_t s) { return !ShapedType::isDynamic(s); }))
      return;
    vectorizeTile(*tiled);
  }

  /// Vectorizes a tile: its unit loops are dropped first (a matmul tile
  /// `rows x cols x 1` becomes `C[m, n] = C[m, n] + A[m] * B[n]`), so the
  /// vector code has no unit dimensions to transpose or broadcast.
  void vectorizeTile(linalg::LinalgOp tile) {
    Operation *target = tile;
    rewriter.setInsertionPoint(target);
    if (!isa<linalg::GenericOp>(target)) {
      FailureOr<linalg::GenericOp> generic =
          linalg::generalizeNamedOp(rewriter, tile);
      if (succeeded(generic))
        target = *generic;
    }
    if (auto generic = dyn_cast<linalg::GenericOp>(target)) {
      linalg::ControlDropUnitDims control;
      control.rankReductionStrategy = linalg::ControlDropUnitDims::
          RankReductionStrategy::ExtractInsertSlice;
      rewriter.setInsertionPoint(generic);
      FailureOr<linalg::DropUnitDimsResult> dropped =
          linalg::dropUnitDims(rewriter, generic, control);
      if (succeeded(dropped)) {
        rewriter.replaceOp(generic, dropped->replacements);
        target = dropped->resultOp;
      }
    }
    auto linalgOp = dyn_cast<linalg::LinalgOp>(target);
    if (!linalgOp || linalgOp.getNumLoops() == 0 ||
        failed(linalg::vectorizeOpPrecondition(linalgOp)))
      return;
    rewriter.setInsertionPoint(target);
    FailureOr<linalg::VectorizationResult> vectorized =
        linalg::vectorize(rewriter, target);
    if (failed(vectorized))
      return;
    rewriter.replaceOp(target, vectorized->replacements);
  }

  /// Copies a matmul block's operands into fresh buffers in the type the
  /// matmul computes in (the conversion it would do on every use, exact, done
  /// once): B always, with rows padded by 64 bytes so that a column strip of
  /// the panel does not fall into a few cache sets; A when it needs a
  /// conversion. The arithmetic is unchanged: the matmul converts its inputs
  /// to the accumulator type first (exactly, for these widening casts).
  linalg::LinalgOp pack(linalg::LinalgOp op) {
    Location loc = op.getLoc();
    Type element = getElementTypeOrSelf(op.getDpsInits()[0]);
    Value lhs = op.getDpsInputs()[0], rhs = op.getDpsInputs()[1];
    auto widens = [&](Value v) {
      Type from = getElementTypeOrSelf(v);
      return from == element || (isa<FloatType>(from) &&
                                 from.getIntOrFloatBitWidth() <
                                     element.getIntOrFloatBitWidth());
    };
    if (!widens(lhs) || !widens(rhs))
      return op;
    rewriter.setInsertionPoint(op);
    SmallVector<linalg::LinalgOp> copies;
    auto copy = [&](Value source, int64_t padBytes) -> Value {
      auto type = cast<RankedTensorType>(source.getType());
      int64_t pad = padBytes * 8 / element.getIntOrFloatBitWidth();
      SmallVector<int64_t> padded(type.getShape());
      padded.back() += pad;
      Value buffer = tensor::EmptyOp::create(rewriter, loc, padded, element);
      if (pad)
        buffer = tensor::ExtractSliceOp::create(
            rewriter, loc, buffer,
            getAsIndexOpFoldResult(rewriter.getContext(),
                                   SmallVector<int64_t>(type.getRank(), 0)),
            getAsIndexOpFoldResult(rewriter.getContext(), type.getShape()),
            getAsIndexOpFoldResult(rewriter.getContext(),
                                   SmallVector<int64_t>(type.getRank(), 1)));
      SmallVector<AffineMap> maps(
          2, rewriter.getMultiDimIdentityMap(type.getRank()));
      SmallVector<utils::IteratorType> parallel(type.getRank(),
                                                utils::IteratorType::parallel);
      auto generic = linalg::GenericOp::create(
          rewriter, loc, buffer.getType(), ValueRange{source},
          ValueRange{buffer}, maps, parallel,
          [&](OpBuilder &b, Location l, ValueRange args) {
            Value v = args[0];
            if (v.getType() != element)
              v = arith::ExtFOp::create(b, l, element, v);
            linalg::YieldOp::create(b, l, v);
          });
      copies.push_back(generic);
      return generic.getResult(0);
    };
    if (getElementTypeOrSelf(lhs) != element)
      lhs = copy(lhs, 0);
    rhs = copy(rhs, 64);
    auto matmul = linalg::MatmulOp::create(rewriter, loc, ValueRange{lhs, rhs},
                                           ValueRange{op.getDpsInits()[0]});
    rewriter.replaceOp(op, matmul->getResults());
    for (linalg::LinalgOp c : copies)
      run(c);
    return matmul;
  }

  /// Tiles `op` with scf.for (0 = not tiled); returns the tiled op.
  FailureOr<linalg::LinalgOp> tile_(linalg::LinalgOp op,
                                    ArrayRef<int64_t> sizes) {
    if (llvm::all_of(sizes, [](int64_t s) { return s == 0; }))
      return op;
    rewriter.setInsertionPoint(op);
    scf::SCFTilingOptions options;
    options.setTileSizes(getAsIndexOpFoldResult(rewriter.getContext(), sizes));
    FailureOr<scf::SCFTilingResult> result = scf::tileUsingSCF(
        rewriter, cast<TilingInterface>(op.getOperation()), options);
    if (failed(result) || result->tiledOps.size() != 1)
      return failure();
    rewriter.replaceOp(op, result->replacements);
    auto tiled = dyn_cast<linalg::LinalgOp>(result->tiledOps.front());
    if (!tiled)
      return failure();
    return tiled;
  }

  RewriterBase &rewriter;
  int64_t lanes;
  int64_t matmulRows;
};

struct CPUVectorizePass
    : public mlir::sp::impl::SPCPUVectorizeBase<CPUVectorizePass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> ops;
    getOperation().walk([&](linalg::LinalgOp op) { ops.push_back(op); });
    IRRewriter rewriter(&getContext());
    Vectorizer vectorizer(rewriter, vectorBits ? vectorBits : hostVectorBits(),
                          matmulRows);
    for (linalg::LinalgOp op : ops)
      vectorizer.run(op);
  }
};

/// A transfer_read from a buffer whose innermost vector dimension is a
/// broadcast (a matmul tile's column of A, read once per row and spread over
/// the columns): one scalar load per row, splat over the row. Upstream's
/// lowering would read it as a transposed broadcast, element by element.
struct InnerBroadcastReadToLoads : OpRewritePattern<vector::TransferReadOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(vector::TransferReadOp read,
                                PatternRewriter &rewriter) const override {
    auto memref = dyn_cast<MemRefType>(read.getBase().getType());
    VectorType type = read.getVectorType();
    AffineMap map = read.getPermutationMap();
    if (!memref || read.getMask() || type.isScalable() ||
        type.getRank() == 0 ||
        !llvm::all_of(read.getInBoundsValues(), [](bool b) { return b; }))
      return failure();
    auto last = dyn_cast<AffineConstantExpr>(map.getResults().back());
    if (!last || last.getValue() != 0)
      return failure();
    ArrayRef<int64_t> outer = type.getShape().drop_back();
    int64_t rows = 1;
    for (int64_t size : outer)
      rows *= size;
    if (rows > 64)
      return failure();
    for (AffineExpr result : map.getResults().drop_back())
      if (!isa<AffineDimExpr>(result) &&
          !(isa<AffineConstantExpr>(result) &&
            cast<AffineConstantExpr>(result).getValue() == 0))
        return failure();

    Location loc = read.getLoc();
    VectorType rowType =
        VectorType::get(type.getShape().back(), type.getElementType());
    Value result = arith::ConstantOp::create(rewriter, loc, type,
                                             rewriter.getZeroAttr(type));
    SmallVector<int64_t> position(outer.size(), 0);
    for (int64_t row = 0; row < rows; ++row) {
      // Position of this row in the vector -> indices into the buffer.
      int64_t rest = row;
      for (int64_t d = outer.size() - 1; d >= 0; --d) {
        position[d] = rest % outer[d];
        rest /= outer[d];
      }
      SmallVector<Value> indices(read.getIndices());
      for (auto [d, expr] : llvm::enumerate(map.getResults().drop_back())) {
        auto dim = dyn_cast<AffineDimExpr>(expr);
        if (!dim || position[d] == 0)
          continue;
        Value offset =
            arith::ConstantIndexOp::create(rewriter, loc, position[d]);
        indices[dim.getPosition()] = arith::AddIOp::create(
            rewriter, loc, indices[dim.getPosition()], offset);
      }
      Value scalar =
          memref::LoadOp::create(rewriter, loc, read.getBase(), indices);
      Value splat = vector::BroadcastOp::create(rewriter, loc, rowType, scalar);
      if (outer.empty()) {
        result = splat;
        break;
      }
      result = vector::InsertOp::create(rewriter, loc, splat, result, position);
    }
    rewriter.replaceOp(read, result);
    return success();
  }
};

struct CPULowerVectorsPass
    : public mlir::sp::impl::SPCPULowerVectorsBase<CPULowerVectorsPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    MLIRContext *context = &getContext();
    // Transfers on subviews -> transfers on the whole buffer, so that a
    // tile's accumulators are loop-invariant transfers of the K loop.
    {
      RewritePatternSet patterns(context);
      memref::populateFoldMemRefAliasOpPatterns(patterns);
      vector::TransferReadOp::getCanonicalizationPatterns(patterns, context);
      vector::TransferWriteOp::getCanonicalizationPatterns(patterns, context);
      // Not converging within the driver's limit leaves valid IR.
      (void)applyPatternsGreedily(func, std::move(patterns));
    }
    // Equal indices must be the same values for the hoisting to pair a
    // read with its write.
    IRRewriter rewriter(context);
    DominanceInfo dominance(func);
    eliminateCommonSubExpressions(rewriter, dominance, func);
    func.walk([](LoopLikeOpInterface loop) { moveLoopInvariantCode(loop); });
    linalg::hoistRedundantVectorTransfers(func, /*verifyNonZeroTrip=*/true);

    // n-D vector ops to 1-D ones. Multi-reductions become one elementwise
    // combine per reduction step in index order (inner-parallel).
    RewritePatternSet patterns(context);
    patterns.add<InnerBroadcastReadToLoads>(context, /*benefit=*/2);
    vector::populateVectorMultiReductionLoweringPatterns(
        patterns, vector::VectorMultiReductionLowering::InnerParallel);
    vector::populateVectorTransferPermutationMapLoweringPatterns(patterns);
    vector::populateVectorBroadcastLoweringPatterns(patterns);
    vector::populateVectorShapeCastLoweringPatterns(patterns);
    vector::populateVectorTransposeLoweringPatterns(
        patterns, vector::VectorTransposeLowering::Shuffle1D);
    vector::populateVectorTransferLoweringPatterns(patterns,
                                                   /*maxTransferRank=*/1);
    vector::populateVectorToVectorCanonicalizationPatterns(patterns);
    (void)applyPatternsGreedily(func, std::move(patterns));
  }
};
} // namespace
