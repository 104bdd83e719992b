//===- Report.cpp - what sp-run prints, compares and reports --------------===//

#include "Report.h"
#include "Faults.h"

#include "sp/Runtime/RankState.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <mpi.h>

#include <cmath>
#include <cstring>

using namespace mlir;

namespace sp_run {

/// FNV-1a of the bytes: a short fingerprint to show that ranks agree.
static uint64_t fingerprint(const HostTensor &t) {
  uint64_t h = 1469598103934665603ull;
  for (char c : t.bytes)
    h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

static std::string hex(uint64_t value) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::format_hex(value, 18);
  return text;
}

std::vector<OutputSummary> summarizeOutputs(ArrayRef<HostTensor> outputs,
                                            bool withValues, const Job &job) {
  std::vector<OutputSummary> summaries;
  for (const HostTensor &t : outputs) {
    OutputSummary summary;
    summary.type = t.typeString();
    uint64_t mine = fingerprint(t);
    summary.fingerprints.resize(job.size);
    MPI_Gather(&mine, 1, MPI_UINT64_T, summary.fingerprints.data(), 1,
               MPI_UINT64_T, 0, MPI_COMM_WORLD);
    if (withValues) {
      // Same size on every rank: the entry's result types are static or
      // computed alike.
      std::vector<char> gathered(job.leader() ? t.bytes.size() * job.size : 0);
      MPI_Gather(t.bytes.data(), static_cast<int>(t.bytes.size()), MPI_BYTE,
                 gathered.data(), static_cast<int>(t.bytes.size()), MPI_BYTE,
                 0, MPI_COMM_WORLD);
      if (job.leader()) {
        HostTensor view = t;
        for (int r = 0; r < job.size; ++r) {
          std::memcpy(view.bytes.data(), gathered.data() + r * t.bytes.size(),
                      t.bytes.size());
          std::vector<double> values;
          for (int64_t i = 0; i < view.numElements(); ++i)
            values.push_back(view.valueAt(i));
          summary.values.push_back(std::move(values));
        }
      }
    }
    summaries.push_back(std::move(summary));
  }
  return summaries;
}

void printOutputs(ArrayRef<OutputSummary> outputs, bool withValues,
                  const Job &job) {
  if (!job.leader())
    return;
  for (auto [k, summary] : llvm::enumerate(outputs)) {
    llvm::outs() << "output " << k << ": " << summary.type << "\n";
    for (int r = 0; r < job.size; ++r)
      llvm::outs() << "  rank " << r << ": fnv1a "
                   << hex(summary.fingerprints[r]) << "\n";
    if (!withValues)
      continue;
    for (int r = 0; r < job.size; ++r) {
      llvm::outs() << "  rank " << r << " values:";
      for (double v : summary.values[r])
        llvm::outs() << " " << llvm::format("%.9g", v);
      llvm::outs() << "\n";
    }
  }
  llvm::outs().flush();
}

Comparison compareOutputs(ArrayRef<HostTensor> before,
                          ArrayRef<HostTensor> after, StringRef pipeline,
                          const Job &job) {
  Comparison result;
  result.pipeline = pipeline.str();
  result.beforeCount = before.size();
  result.afterCount = after.size();
  bool allEqual = before.size() == after.size();
  for (size_t k = 0; allEqual && k < before.size(); ++k) {
    const HostTensor &a = before[k], &b = after[k];
    int64_t differing = 0;
    double maxDiff = 0.0;
    bool sameType = a.elementType == b.elementType && a.shape == b.shape;
    if (sameType) {
      size_t width = a.elementBytes();
      for (int64_t i = 0; i < a.numElements(); ++i) {
        if (std::memcmp(&a.bytes[i * width], &b.bytes[i * width], width) == 0)
          continue;
        ++differing;
        double d = std::fabs(a.valueAt(i) - b.valueAt(i));
        maxDiff = std::isnan(d) ? INFINITY : std::max(maxDiff, d);
      }
    }
    int64_t local[3] = {differing, sameType ? 0 : 1, differing ? 1 : 0};
    int64_t sums[3];
    double maxAll = 0;
    MPI_Reduce(local, sums, 3, MPI_INT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
    MPI_Reduce(&maxDiff, &maxAll, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (!job.leader())
      continue;
    OutputComparison output;
    output.beforeType = a.typeString();
    output.afterType = sums[1] ? b.typeString() : output.beforeType;
    output.elements = a.numElements() * job.size;
    output.differingElements = sums[0];
    output.ranksDiffering = sums[2];
    output.maxAbsDifference = maxAll;
    result.outputs.push_back(output);
  }
  if (job.leader())
    for (const OutputComparison &output : result.outputs)
      allEqual &= output.identical();
  int flag = allEqual ? 1 : 0;
  MPI_Bcast(&flag, 1, MPI_INT, 0, MPI_COMM_WORLD);
  result.match = flag;
  return result;
}

void printComparison(const Comparison &comparison, const Options &options,
                     const Job &job) {
  if (!job.leader())
    return;
  llvm::outs() << "sp-run: comparing '" << options.inputFile
               << "' before and after '" << comparison.pipeline << "' on "
               << job.size << " rank" << (job.size == 1 ? "" : "s")
               << " (bitwise)\n";
  if (comparison.beforeCount != comparison.afterCount)
    llvm::outs() << "  the pipeline changed the number of outputs from "
                 << comparison.beforeCount << " to " << comparison.afterCount
                 << "\n";
  for (auto [k, output] : llvm::enumerate(comparison.outputs)) {
    if (output.beforeType != output.afterType)
      llvm::outs() << "  output " << k << ": type changed from "
                   << output.beforeType << " to " << output.afterType << "\n";
    else if (output.differingElements)
      llvm::outs() << "  output " << k << ": " << output.beforeType
                   << ": DIFFERS: " << output.differingElements << " of "
                   << output.elements << " elements on "
                   << output.ranksDiffering << " of " << job.size
                   << " ranks, max |before - after| = "
                   << llvm::format("%g", output.maxAbsDifference) << "\n";
    else
      llvm::outs() << "  output " << k << ": " << output.beforeType
                   << ": identical on all ranks\n";
  }
  llvm::outs() << (comparison.match ? "sp-run: outputs match\n"
                                    : "sp-run: outputs DIFFER\n");
  llvm::outs().flush();
}

void printTime(StringRef what, const CallTimes &times, int repeat,
               const Job &job) {
  if (job.leader())
    llvm::outs() << "sp-run: " << what << "time per call: "
                 << llvm::format("%.3f", times.slowestRankMedian * 1e3)
                 << " ms (median of " << repeat << ", slowest rank)\n";
}

void writeOutputs(ArrayRef<HostTensor> outputs, StringRef prefix,
                  const Options &options, const Job &job) {
  setRankPhase(sp_runtime::kPhaseWritingOutputs);
  if (options.outputsDir.empty())
    return;
  SmallString<256> dir(options.outputsDir);
  llvm::sys::path::append(dir, "rank" + std::to_string(job.rank));
  if (std::error_code error = llvm::sys::fs::create_directories(dir))
    job.failHere("cannot create '" + dir.str() + "': " + error.message());
  for (auto [k, t] : llvm::enumerate(outputs)) {
    SmallString<256> path(dir);
    llvm::sys::path::append(path, prefix.str() + "output" + std::to_string(k) +
                                      ".npy");
    if (llvm::Error error = writeNpy(path.str().str(), t))
      job.failHere(llvm::toString(std::move(error)));
  }
}

//===----------------------------------------------------------------------===//
// --report=FILE
//===----------------------------------------------------------------------===//

static void writeSummaries(llvm::json::OStream &json, StringRef key,
                           ArrayRef<OutputSummary> outputs) {
  json.attributeArray(key, [&] {
    for (auto [k, summary] : llvm::enumerate(outputs)) {
      json.object([&] {
        json.attribute("index", int64_t(k));
        json.attribute("type", summary.type);
        json.attributeArray("fnv1a", [&] {
          for (uint64_t f : summary.fingerprints)
            json.value(hex(f));
        });
        if (!summary.values.empty())
          json.attributeArray("values", [&] {
            for (const std::vector<double> &rank : summary.values)
              json.array([&] {
                for (double v : rank)
                  json.value(std::isfinite(v) ? llvm::json::Value(v)
                                              : llvm::json::Value(nullptr));
              });
          });
      });
    }
  });
}

static void writeTimes(llvm::json::OStream &json, StringRef key,
                       const CallTimes &times) {
  json.attributeObject(key, [&] {
    json.attribute("slowest_rank_median_s", times.slowestRankMedian);
    json.attributeArray("per_rank_median_s", [&] {
      for (double t : times.perRankMedian)
        json.value(t);
    });
  });
}

void discardStaleCompletion(const Options &options, const Job &job) {
  if (options.outputsDir.empty() || !job.leader())
    return;
  SmallString<256> marker(options.outputsDir);
  llvm::sys::path::append(marker, kCompletionMarker);
  llvm::sys::fs::remove(marker);
}

static void writeReportFile(const RunReport &report, const Options &options,
                            const Job &job);

void writeReport(const RunReport &report, const Options &options,
                 const Job &job) {
  writeReportFile(report, options, job);
  // Every rank wrote its outputs before it sent its fingerprints to rank 0
  // (summarizeOutputs), so rank 0 knows that the outputs are complete.
  if (job.leader() && !options.outputsDir.empty()) {
    SmallString<256> marker(options.outputsDir);
    llvm::sys::path::append(marker, kCompletionMarker);
    std::error_code error;
    llvm::raw_fd_ostream os(marker, error, llvm::sys::fs::OF_Text);
    if (error)
      job.failHere("cannot write '" + marker.str() + "': " + error.message());
    os << "sp-run wrote the outputs of " << job.size << " ranks\n";
  }
  setRankPhase(sp_runtime::kPhaseFinished);
}

static void writeReportFile(const RunReport &report, const Options &options,
                            const Job &job) {
  if (options.reportFile.empty() || !job.leader())
    return;
  // Written under a temporary name and renamed: a report file is complete.
  std::string partial = options.reportFile + ".partial";
  {
  std::error_code error;
  llvm::raw_fd_ostream os(partial, error, llvm::sys::fs::OF_Text);
  if (error)
    job.failHere("cannot write the report '" + options.reportFile +
                 "': " + error.message());
  llvm::json::OStream json(os, /*IndentSize=*/2);
  json.object([&] {
    json.attribute("tool", "sp-run");
    json.attribute("module", options.inputFile);
    json.attribute("entry", report.entry);
    json.attribute("ranks", int64_t(job.size));
    json.attribute("backend", mlir::sp::spellEnumChoice(options.backend));
    json.attribute("seed", int64_t(options.seed));
    writeSummaries(json, "outputs", report.outputs);
    json.attributeArray("first_call_s", [&] {
      for (double t : report.firstCallSeconds)
        json.value(t);
    });
    if (report.comparison) {
      const Comparison &c = *report.comparison;
      json.attributeObject("comparison", [&] {
        json.attribute("pipeline", c.pipeline);
        json.attribute("match", c.match);
        json.attribute("outputs_before", int64_t(c.beforeCount));
        json.attribute("outputs_after", int64_t(c.afterCount));
        json.attributeArray("outputs", [&] {
          for (auto [k, o] : llvm::enumerate(c.outputs))
            json.object([&] {
              json.attribute("index", int64_t(k));
              json.attribute("type", o.beforeType);
              json.attribute("after_type", o.afterType);
              json.attribute("identical", o.identical());
              json.attribute("elements", o.elements);
              json.attribute("differing_elements", o.differingElements);
              json.attribute("ranks_differing", o.ranksDiffering);
              json.attribute("max_abs_difference",
                             std::isfinite(o.maxAbsDifference)
                                 ? llvm::json::Value(o.maxAbsDifference)
                                 : llvm::json::Value("inf"));
            });
        });
      });
      writeSummaries(json, "after_outputs", report.afterOutputs);
    }
    if (report.timesBefore || report.timesAfter) {
      json.attributeObject("timings", [&] {
        json.attribute("calls", int64_t(options.repeat));
        if (report.timesBefore)
          writeTimes(json, report.comparison ? "before" : "module",
                     *report.timesBefore);
        if (report.timesAfter)
          writeTimes(json, "after", *report.timesAfter);
      });
    }
  });
  os << "\n";
  }
  if (std::error_code error =
          llvm::sys::fs::rename(partial, options.reportFile))
    job.failHere("cannot write the report '" + options.reportFile +
                 "': " + error.message());
}

} // namespace sp_run
