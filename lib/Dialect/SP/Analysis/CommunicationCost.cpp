//===- CommunicationCost.cpp - what sp's collectives cost -----------------===//

#include "sp/Dialect/SP/Analysis/CommunicationCost.h"

#include "sp/Dialect/SP/IR/SPOps.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MathExtras.h"

#include <functional>
#include <limits>

using namespace mlir;
using namespace mlir::sp;

std::optional<int64_t> mlir::sp::getTensorBytes(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.hasStaticShape())
    return std::nullopt;
  int64_t bytes = (tensor.getElementTypeBitWidth() + 7) / 8;
  for (int64_t extent : tensor.getShape())
    if (llvm::MulOverflow(bytes, extent, bytes))
      return std::nullopt; // no real tensor is this large: size unknown
  return bytes;
}

int64_t mlir::sp::saturatingAdd(int64_t a, int64_t b) {
  int64_t sum;
  if (llvm::AddOverflow(a, b, sum))
    return b > 0 ? std::numeric_limits<int64_t>::max()
                 : std::numeric_limits<int64_t>::min();
  return sum;
}

int64_t mlir::sp::getRingShare(int64_t bytes, int64_t n) {
  if (n <= 1)
    return 0;
  bool negative = bytes < 0;
  int64_t magnitude = !negative ? bytes
                      : bytes == std::numeric_limits<int64_t>::min()
                          ? std::numeric_limits<int64_t>::max()
                          : -bytes;
  int64_t share = magnitude - (magnitude / n + (magnitude % n != 0));
  return negative ? -share : share;
}

CollectiveCensus CollectiveCensus::of(Operation *root) {
  CollectiveCensus census;
  auto count = [&](std::optional<int64_t> bytes, std::optional<int64_t> size,
                   int64_t times, bool ring) {
    if (!bytes || !size) {
      ++census.unknownSize;
      return;
    }
    int64_t share = ring ? getRingShare(*bytes, *size) : *size > 1 ? *bytes : 0;
    for (int64_t i = 0; i < times; ++i)
      census.bytesPerRank = saturatingAdd(census.bytesPerRank, share);
  };
  auto countOp = [&](Operation *op) {
    if (auto collective = dyn_cast<CollectiveOpInterface>(op)) {
      std::optional<int64_t> size = collective.getGroupSize();
      if (isa<AllReduceOp>(op)) {
        ++census.allReduce;
        count(getTensorBytes(collective.getInput().getType()), size, 2, true);
      } else if (isa<ReduceScatterOp>(op)) {
        ++census.reduceScatter;
        count(getTensorBytes(collective.getInput().getType()), size, 1, true);
      } else if (isa<AllGatherOp>(op)) {
        ++census.allGather;
        count(getTensorBytes(op->getResult(0).getType()), size, 1, true);
      } else {
        ++census.allSlice;
      }
      return;
    }
    if (auto fused = dyn_cast<AllGatherMatmulOp>(op)) {
      ++census.allGatherMatmul;
      // The gathered lhs: rows of the result, columns and type of lhs.
      auto lhs = fused.getLhs().getType();
      auto gathered = RankedTensorType::get(
          {fused.getResult().getType().getDimSize(0), lhs.getDimSize(1)},
          lhs.getElementType());
      count(getTensorBytes(gathered), getGroupSizeOf(op, fused.getGroupAttr()),
            1, true);
    } else if (auto fused = dyn_cast<MatmulReduceScatterOp>(op)) {
      ++census.matmulReduceScatter;
      // The product that is reduce-scattered: lhs rows x result columns.
      auto result = fused.getResult().getType();
      auto product = RankedTensorType::get(
          {fused.getLhs().getType().getDimSize(0), result.getDimSize(1)},
          result.getElementType());
      count(getTensorBytes(product), getGroupSizeOf(op, fused.getGroupAttr()),
            1, true);
    } else if (auto shift = dyn_cast<RingShiftOp>(op)) {
      ++census.ringShift;
      count(getTensorBytes(shift.getInput().getType()),
            getGroupSizeOf(op, shift.getGroupAttr()), 1, false);
    }
  };
  // A token guard's two versions are alternatives (TokenGuard.h): count the
  // guarded, rewritten one, what a call moves when the guard holds; the
  // other branch is the program as it was before the rewrite.
  std::function<void(Operation *)> visit = [&](Operation *from) {
    from->walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (op->hasAttr("sp.token_guard") && op->getNumRegions() == 2) {
        for (Operation &inner : op->getRegion(0).getOps())
          visit(&inner);
        return WalkResult::skip();
      }
      countOp(op);
      return WalkResult::advance();
    });
  };
  visit(root);
  return census;
}

void CollectiveCensus::writeJSON(llvm::json::OStream &json) const {
  json.attribute("all_reduce", allReduce);
  json.attribute("reduce_scatter", reduceScatter);
  json.attribute("all_gather", allGather);
  json.attribute("all_slice", allSlice);
  json.attribute("all_gather_matmul", allGatherMatmul);
  json.attribute("matmul_reduce_scatter", matmulReduceScatter);
  json.attribute("ring_shift", ringShift);
  json.attribute("bytes_per_rank", bytesPerRank);
  json.attribute("unknown_size", unknownSize);
}

StringRef mlir::sp::stringifyGPUGeneration(GPUGeneration generation) {
  switch (generation) {
  case GPUGeneration::sm90:
    return "sm90";
  case GPUGeneration::sm100:
    return "sm100";
  case GPUGeneration::none:
    break;
  }
  return "";
}

std::optional<int64_t> mlir::sp::vllmMinTokens(GPUGeneration generation,
                                               int64_t hidden, int64_t tp,
                                               int64_t elementBytes) {
  if (hidden <= 0 || tp <= 0 || elementBytes <= 0)
    return std::nullopt;
  int64_t megabytes;
  switch (generation) {
  case GPUGeneration::sm90:
    if (hidden < 8192)
      return std::nullopt;
    megabytes = 8;
    break;
  case GPUGeneration::sm100:
    megabytes = 32;
    break;
  case GPUGeneration::none:
    return std::nullopt;
  }
  // In 128 bits: absurd group sizes or hidden sizes must not wrap around.
  __int128 numerator = __int128(megabytes) * (int64_t(1) << 20) * tp;
  __int128 tokens = numerator / (__int128(hidden) * elementBytes);
  return tokens > std::numeric_limits<int64_t>::max()
             ? std::numeric_limits<int64_t>::max()
             : int64_t(tokens);
}

std::optional<int64_t> mlir::sp::vllmMinTokens(GPUGeneration generation,
                                               RankedTensorType type,
                                               int64_t tp) {
  int64_t hidden = type.getDimSize(type.getRank() - 1);
  if (ShapedType::isDynamic(hidden))
    return std::nullopt;
  return vllmMinTokens(generation, hidden, tp,
                       (type.getElementTypeBitWidth() + 7) / 8);
}
