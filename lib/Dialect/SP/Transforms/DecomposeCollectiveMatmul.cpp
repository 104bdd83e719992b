//===- DecomposeCollectiveMatmul.cpp - collective matmul as a pipeline ----===//
//
// sp-decompose-collective-matmul: each fused op becomes an scf.for of n - 1
// steps (n ranks) in which a chunk's GEMM sits between the start of a
// transfer (sp.ring_shift) and the first use of its result, so the lowering
// overlaps them. See Passes.td for the schedule.
//
//===----------------------------------------------------------------------===//

#include "sp/Dialect/SP/Transforms/CollectiveMatmul.h"

#include "sp/Dialect/SP/IR/SPOps.h"
#include "sp/Dialect/SP/Transforms/Passes.h"
#include "sp/Dialect/SP/Utils/MatmulUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::sp {
#define GEN_PASS_DEF_SPDECOMPOSECOLLECTIVEMATMUL
#include "sp/Dialect/SP/Transforms/Passes.h.inc"
} // namespace mlir::sp

using namespace mlir;
using namespace mlir::sp;

namespace {
/// Index arithmetic of the schedule: rank r of n, chunks of `rows` rows.
struct Schedule {
  Schedule(OpBuilder &b, Location loc, FlatSymbolRefAttr group, int64_t n)
      : b(b), loc(loc), n(n) {
    rank = GroupRankOp::create(b, loc, group);
  }
  Value constant(int64_t value) {
    return arith::ConstantIndexOp::create(b, loc, value);
  }
  /// (r + delta) mod n for a delta in [0, n]: `delta` an SSA index.
  Value rankPlus(Value delta) {
    Value sum = arith::AddIOp::create(b, loc, rank, delta);
    return arith::RemUIOp::create(b, loc, sum, constant(n));
  }
  /// (r - delta) mod n for a delta in [0, n].
  Value rankMinus(Value delta) {
    Value shifted = arith::AddIOp::create(b, loc, rank, constant(n));
    Value diff = arith::SubIOp::create(b, loc, shifted, delta);
    return arith::RemUIOp::create(b, loc, diff, constant(n));
  }
  Value times(Value index, int64_t rows) {
    return arith::MulIOp::create(b, loc, index, constant(rows));
  }

  OpBuilder &b;
  Location loc;
  int64_t n;
  Value rank;
};

/// Inserts the 2-D `chunk` at rows [row, row + rows) of `into`.
Value insertRows(OpBuilder &b, Location loc, Value chunk, Value into,
                 Value row) {
  SmallVector<OpFoldResult> offsets{row, b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, chunk);
  SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
  return tensor::InsertSliceOp::create(b, loc, chunk, into, offsets, sizes,
                                       strides);
}

/// Rows [row, row + rows) of the 2-D `from`.
Value extractRows(OpBuilder &b, Location loc, Value from, Value row,
                  int64_t rows) {
  SmallVector<OpFoldResult> offsets{row, b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes{b.getIndexAttr(rows),
                                  tensor::getMixedSize(b, loc, from, 1)};
  SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(b, loc, from, offsets, sizes, strides);
}

/// A 2-D tensor.empty of [rows, cols of `like`] and `element`.
Value emptyRows(OpBuilder &b, Location loc, int64_t rows, Value like,
                Type element) {
  SmallVector<OpFoldResult> shape{b.getIndexAttr(rows),
                                  tensor::getMixedSize(b, loc, like, 1)};
  return tensor::EmptyOp::create(b, loc, shape, element);
}
} // namespace

LogicalResult mlir::sp::decomposeAllGatherMatmul(RewriterBase &rewriter,
                                                 AllGatherMatmulOp op) {
  int64_t rows = op.getLhs().getType().getDimSize(0);
  std::optional<int64_t> size = getGroupSizeOf(op, op.getGroupAttr());
  if (ShapedType::isDynamic(rows) || !size)
    return rewriter.notifyMatchFailure(op, "dynamic rows");
  int64_t n = *size;
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  OpBuilder &b = rewriter;
  Value x = op.getLhs(), w = op.getRhs();
  SmallVector<Value> scales(op.getScales());
  Type element = op.getResult().getType().getElementType();
  Schedule schedule(b, loc, op.getGroupAttr(), n);
  auto gemm = [&](Value chunk) {
    return buildCollectiveGemm(b, loc, chunk, w, scales, element);
  };

  // Loop-carried: the chunk in hand, the result, the gathered rows.
  SmallVector<Value> init{x, emptyRows(b, loc, n * rows, w, element)};
  bool gathered = static_cast<bool>(op.getGathered());
  if (gathered)
    init.push_back(emptyRows(b, loc, n * rows, x,
                             op.getLhs().getType().getElementType()));
  auto loop = scf::ForOp::create(
      b, loc, schedule.constant(0), schedule.constant(n - 1),
      schedule.constant(1), init,
      [&](OpBuilder &nb, Location nl, Value step, ValueRange carried) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        // Start bringing the chunk of rank r - (s + 1), then multiply the
        // chunk of rank r - s while it travels.
        Value nextStep = arith::AddIOp::create(b, nl, step, schedule.constant(1));
        Value next = RingShiftOp::create(b, nl, x, op.getGroupAttr(), nextStep);
        Value row = schedule.times(schedule.rankMinus(step), rows);
        SmallVector<Value> yielded{
            next, insertRows(b, nl, gemm(carried[0]), carried[1], row)};
        if (gathered)
          yielded.push_back(insertRows(b, nl, carried[0], carried[2], row));
        scf::YieldOp::create(b, nl, yielded);
      });
  // The last chunk (rank r - (n - 1) = r + 1) arrived in the last step.
  Value last = loop.getResult(0);
  Value row =
      schedule.times(schedule.rankMinus(schedule.constant(n - 1)), rows);
  SmallVector<Value> results{
      insertRows(b, loc, gemm(last), loop.getResult(1), row)};
  if (gathered)
    results.push_back(insertRows(b, loc, last, loop.getResult(2), row));
  rewriter.replaceOp(op, results);
  return success();
}

LogicalResult mlir::sp::decomposeMatmulReduceScatter(RewriterBase &rewriter,
                                                     MatmulReduceScatterOp op) {
  int64_t total = op.getLhs().getType().getDimSize(0);
  std::optional<int64_t> size = getGroupSizeOf(op, op.getGroupAttr());
  if (ShapedType::isDynamic(total) || !size)
    return rewriter.notifyMatchFailure(op, "dynamic rows");
  int64_t n = *size, rows = total / n;
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  OpBuilder &b = rewriter;
  Value h = op.getLhs(), w = op.getRhs();
  SmallVector<Value> scales(op.getScales());
  Type element = op.getResult().getType().getElementType();
  Schedule schedule(b, loc, op.getGroupAttr(), n);
  // The partial product of the rows owned by rank `owner`.
  auto partial = [&](Value owner) {
    Value chunk = extractRows(b, loc, h, schedule.times(owner, rows), rows);
    return buildCollectiveGemm(b, loc, chunk, w, scales, element);
  };
  auto rowsType = cast<RankedTensorType>(op.getResult().getType());
  SmallVector<OpFoldResult> partsShape{b.getIndexAttr(n), b.getIndexAttr(rows),
                                       tensor::getMixedSize(b, loc, w, 1)};
  Value parts = tensor::EmptyOp::create(b, loc, partsShape, element);
  // Inserts a [rows, cols] partial as partials[owner].
  auto insertPart = [&](OpBuilder &pb, Location pl, Value part, Value into,
                        Value owner) {
    SmallVector<OpFoldResult> offsets{owner, pb.getIndexAttr(0),
                                      pb.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes{pb.getIndexAttr(1), pb.getIndexAttr(rows),
                                    tensor::getMixedSize(pb, pl, part, 1)};
    SmallVector<OpFoldResult> strides(3, pb.getIndexAttr(1));
    return tensor::InsertSliceOp::create(pb, pl, part, into, offsets, sizes,
                                         strides)
        .getResult();
  };
  (void)rowsType;

  Value first = partial(schedule.rankPlus(schedule.constant(1)));
  auto loop = scf::ForOp::create(
      b, loc, schedule.constant(1), schedule.constant(n), schedule.constant(1),
      ValueRange{first, parts},
      [&](OpBuilder &nb, Location nl, Value step, ValueRange carried) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        // Send the partial for rank r + s; compute the next one (for r + s +
        // 1, the own rows at s = n - 1) while it travels; file the partial
        // rank r - s computed for us.
        Value received =
            RingShiftOp::create(b, nl, carried[0], op.getGroupAttr(), step);
        Value nextStep = arith::AddIOp::create(b, nl, step, schedule.constant(1));
        Value next = partial(schedule.rankPlus(nextStep));
        Value filed = insertPart(b, nl, received, carried[1],
                                 schedule.rankMinus(step));
        scf::YieldOp::create(b, nl, ValueRange{next, filed});
      });
  Value all =
      insertPart(b, loc, loop.getResult(0), loop.getResult(1), schedule.rank);
  rewriter.replaceOp(op, buildRankOrderSum(b, loc, all));
  return success();
}

namespace {
struct DecomposeCollectiveMatmulPass
    : public sp::impl::SPDecomposeCollectiveMatmulBase<
          DecomposeCollectiveMatmulPass> {
  void runOnOperation() override {
    SmallVector<Operation *> fused;
    getOperation().walk([&](Operation *op) {
      if (isa<AllGatherMatmulOp, MatmulReduceScatterOp>(op))
        fused.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (Operation *op : fused) {
      LogicalResult done =
          isa<AllGatherMatmulOp>(op)
              ? decomposeAllGatherMatmul(rewriter, cast<AllGatherMatmulOp>(op))
              : decomposeMatmulReduceScatter(rewriter,
                                             cast<MatmulReduceScatterOp>(op));
      if (failed(done))
        mlir::emitRemark(op->getLoc())
            << op->getName() << " left fused: its row count is dynamic, so "
            << "the chunks of the pipeline are not known";
    }
  }
};
} // namespace
