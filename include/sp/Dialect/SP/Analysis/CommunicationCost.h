//===- CommunicationCost.h - what sp's collectives cost ---------*- C++ -*-===//
//
// The cost side of the sequence-parallel rewrite, apart from the pass:
//  * the ring model of bytes each rank sends (all_reduce 2(n-1)/n of the
//    tensor, reduce_scatter (n-1)/n of its input, all_gather (n-1)/n of its
//    output, all_slice nothing), overflow-safe for absurd shapes and groups;
//  * a census of a module's collectives under that model;
//  * vLLM's minimum token count for sequence parallelism per GPU generation.
//
//===----------------------------------------------------------------------===//

#ifndef SP_DIALECT_SP_ANALYSIS_COMMUNICATIONCOST_H
#define SP_DIALECT_SP_ANALYSIS_COMMUNICATIONCOST_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"
#include "mlir/IR/Types.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>

namespace llvm::json {
class OStream;
} // namespace llvm::json

namespace mlir::sp {

/// Bytes of a statically shaped ranked tensor; std::nullopt if a dim is
/// dynamic, the type is not a ranked tensor, or the size overflows int64.
std::optional<int64_t> getTensorBytes(Type type);

/// a + b clamped to int64's range: byte counts of absurd shapes or groups
/// must not wrap around and invert a decision.
int64_t saturatingAdd(int64_t a, int64_t b);

/// bytes * (n - 1) / n, what each rank sends of `bytes` in a ring of n
/// ranks, rounded toward zero like that expression, without its overflow.
int64_t getRingShare(int64_t bytes, int64_t n);

/// Counts and per-rank bytes (ring model) of the collectives under a root.
/// The fused ops count the bytes of the collective they contain (the
/// gathered lhs; the reduce-scattered product); a ring_shift sends its whole
/// input once (an op in a loop is counted once).
struct CollectiveCensus {
  int64_t allReduce = 0, reduceScatter = 0, allGather = 0, allSlice = 0;
  int64_t allGatherMatmul = 0, matmulReduceScatter = 0, ringShift = 0;
  int64_t bytesPerRank = 0;
  /// Collectives whose bytes are unknown (dynamic shapes, unknown group).
  int64_t unknownSize = 0;

  /// Of a token guard (sp.token_guard), only the guarded version counts.
  static CollectiveCensus of(Operation *root);
  /// The counts as attributes of the current JSON object.
  void writeJSON(llvm::json::OStream &json) const;
};

/// The GPU generations vLLM has sequence-parallel thresholds for.
enum class GPUGeneration { none, sm90, sm100 };

/// "sm90", "sm100", or "" for none.
llvm::StringRef stringifyGPUGeneration(GPUGeneration generation);

/// vLLM's minimum token count for sequence parallelism on `generation`:
/// floor(MB * 2^20 * tp / (hidden * elementBytes)) with 8 MB on sm90 (only
/// for hidden >= 8192) and 32 MB on sm100, saturating at int64's maximum.
/// std::nullopt when no threshold applies (none, sm90 with hidden < 8192,
/// non-positive arguments).
std::optional<int64_t> vllmMinTokens(GPUGeneration generation, int64_t hidden,
                                     int64_t tp, int64_t elementBytes);
/// The same for an all_reduce of `type` (hidden: its last dim; none when
/// that is dynamic) over `tp` ranks.
std::optional<int64_t> vllmMinTokens(GPUGeneration generation,
                                     RankedTensorType type, int64_t tp);

} // namespace mlir::sp

#endif // SP_DIALECT_SP_ANALYSIS_COMMUNICATIONCOST_H
