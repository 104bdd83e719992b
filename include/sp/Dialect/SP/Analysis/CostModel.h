//===- CostModel.h - predicted time of collectives from a profile -*- C++ -*-===//
//
// Device profiles (data/cost-profiles/*.json): bus bandwidth and latency of
// all_reduce, reduce_scatter and all_gather per group size (and optionally
// per message size), HBM bandwidth, and the fraction of a fused
// collective's transfer hidden behind its GEMM. Every number in a profile
// carries a "source" (a published measurement) or an "assumption" (why),
// and the loader rejects one that carries neither.
//
// Times follow nccl-tests' definitions, so that a profile quotes its
// sources' busbw columns unchanged: a collective over n ranks of S bytes
// (all_reduce: the tensor; reduce_scatter: its input; all_gather: its
// output) takes latency + busBytes / busbw with busBytes = 2(n-1)/n * S for
// all_reduce and (n-1)/n * S for the others.
//
//===----------------------------------------------------------------------===//

#ifndef SP_DIALECT_SP_ANALYSIS_COSTMODEL_H
#define SP_DIALECT_SP_ANALYSIS_COSTMODEL_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlir::sp {

enum class CollectiveKind { allReduce, reduceScatter, allGather };

/// "all_reduce", "reduce_scatter", "all_gather".
llvm::StringRef stringifyCollectiveKind(CollectiveKind kind);

class DeviceProfile {
public:
  /// One row of a collective's table: applies to groups of tpMin..tpMax
  /// ranks and messages of at least minBytes (the row with the largest
  /// minBytes that fits wins).
  struct Entry {
    int64_t tpMin = 0, tpMax = 0, minBytes = 0;
    double busBytesPerSecond = 0, latencySeconds = 0;
  };

  /// Loads a profile: `nameOrPath` is a file path when it contains '/' or
  /// ends in ".json", else a profile name looked up as NAME.json in
  /// getSearchDirectories(). Errors say which file and, for malformed
  /// JSON, where (line:column), for a bad field, its path in the document.
  static llvm::Expected<DeviceProfile> load(llvm::StringRef nameOrPath);
  /// Parses a profile from text; `origin` names it in errors.
  static llvm::Expected<DeviceProfile> parse(llvm::StringRef text,
                                             llvm::StringRef origin);
  /// $SP_COST_PROFILE_PATH (':'-separated), then share/sp/cost-profiles
  /// next to the running executable's prefix, then the source tree's
  /// data/cost-profiles.
  static std::vector<std::string> getSearchDirectories();
  /// The profile names found in getSearchDirectories(), sorted.
  static std::vector<std::string> listAvailable();

  /// The profile's "name".
  const std::string &getName() const { return name; }
  /// Predicted seconds of a collective of `bytes` over `tp` ranks, split
  /// into latency and transfer (bandwidth) parts; std::nullopt if the
  /// profile has no row for that group size.
  struct Time {
    double latency = 0, transfer = 0;
    double total() const { return latency + transfer; }
  };
  std::optional<Time> predict(CollectiveKind kind, int64_t bytes,
                              int64_t tp) const;
  /// Seconds to stream `bytes` through HBM (peak * efficiency).
  double memoryTime(int64_t bytes) const;
  /// Fraction of a fused collective's transfer time hidden behind its GEMM.
  double getCollectiveMatmulOverlap() const { return overlap; }

private:
  std::string name;
  double hbmBytesPerSecond = 0;
  double overlap = 0;
  std::vector<Entry> tables[3];
};

} // namespace mlir::sp

#endif // SP_DIALECT_SP_ANALYSIS_COSTMODEL_H
