//===- Report.h - what sp-run prints, compares and reports ------*- C++ -*-===//

#ifndef SP_TOOLS_SP_RUN_REPORT_H
#define SP_TOOLS_SP_RUN_REPORT_H

#include "HostTensor.h"
#include "Invoke.h"
#include "Job.h"

#include <optional>
#include <string>
#include <vector>

namespace sp_run {

/// One output on every rank, gathered on rank 0.
struct OutputSummary {
  std::string type;
  /// FNV-1a of each rank's bytes.
  std::vector<uint64_t> fingerprints;
  /// Each rank's values (only with --print).
  std::vector<std::vector<double>> values;
};

/// Gathers fingerprints (and values, with `withValues`) of every output on
/// rank 0; a collective call.
std::vector<OutputSummary> summarizeOutputs(llvm::ArrayRef<HostTensor> outputs,
                                            bool withValues, const Job &job);

/// How one output differs before and after the pipeline, over all ranks.
struct OutputComparison {
  std::string beforeType, afterType;
  int64_t elements = 0;           // per rank, times the ranks
  int64_t differingElements = 0;  // bitwise
  int64_t ranksDiffering = 0;
  double maxAbsDifference = 0;    // inf if a NaN differs
  bool identical() const {
    return beforeType == afterType && differingElements == 0;
  }
};

struct Comparison {
  std::string pipeline;
  size_t beforeCount = 0, afterCount = 0;
  std::vector<OutputComparison> outputs;
  bool match = false;
};

/// Compares before/after outputs bitwise on every rank; a collective call.
/// Every rank gets `match`; rank 0 also the details.
Comparison compareOutputs(llvm::ArrayRef<HostTensor> before,
                          llvm::ArrayRef<HostTensor> after,
                          llvm::StringRef pipeline, const Job &job);

/// The human-readable lines (rank 0).
void printOutputs(llvm::ArrayRef<OutputSummary> outputs, bool withValues,
                  const Job &job);
void printComparison(const Comparison &comparison, const Options &options,
                     const Job &job);
void printTime(llvm::StringRef what, const CallTimes &times, int repeat,
               const Job &job);

/// DIR/COMPLETE (--outputs=DIR): written by rank 0 at the end of a job
/// that wrote every rank's outputs; a directory without it holds no
/// complete job's outputs (the launcher also removes the outputs of a job
/// that failed).
inline constexpr const char *kCompletionMarker = "COMPLETE";

/// Rank 0 removes DIR/COMPLETE of an earlier job before this one writes.
void discardStaleCompletion(const Options &options, const Job &job);

/// Writes DIR/rankR/<prefix>outputK.npy for every output (--outputs), each
/// under a temporary name renamed when complete.
void writeOutputs(llvm::ArrayRef<HostTensor> outputs, llvm::StringRef prefix,
                  const Options &options, const Job &job);

/// Everything --report=FILE holds (written by rank 0 as JSON).
struct RunReport {
  std::string entry;
  std::vector<OutputSummary> outputs;
  /// Each rank's wall time of the first call of the module as given.
  std::vector<double> firstCallSeconds;
  std::optional<Comparison> comparison;
  std::vector<OutputSummary> afterOutputs;
  std::optional<CallTimes> timesBefore, timesAfter;
};
void writeReport(const RunReport &report, const Options &options,
                 const Job &job);

} // namespace sp_run

#endif // SP_TOOLS_SP_RUN_REPORT_H
