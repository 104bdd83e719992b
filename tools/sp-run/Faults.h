//===- Faults.h - post-mortems of jobs that fail mid-run --------*- C++ -*-===//
//
// Each rank keeps a record of where it is (sp/Runtime/RankState.h) in a
// directory the launcher makes; when the job fails, the launcher reads the
// records and says which rank failed, how, and which op every rank was in.
// See docs/Running.md, "Faults".
//
//===----------------------------------------------------------------------===//

#ifndef SP_TOOLS_SP_RUN_FAULTS_H
#define SP_TOOLS_SP_RUN_FAULTS_H

#include "Job.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <string>
#include <vector>

namespace sp_run {

//===- In the launcher ----------------------------------------------------===//

/// The ranks' records of one launched job (a directory that SP_RUN_STATE_DIR
/// names for the ranks mpirun starts; removed with the watch), and the
/// order in which the ranks' processes ended, watched while mpirun runs.
class RankWatch {
public:
  explicit RankWatch(int ranks);
  ~RankWatch();

  /// Runs `program` (mpirun) like llvm::sys::ExecuteAndWait (its exit
  /// code; -1: it did not start, -2: it crashed), polling every rank's
  /// process meanwhile: a rank whose process is gone while the others run
  /// ended first (mpirun then stops the others, SIGTERM and a second later
  /// SIGKILL, which a rank that is not scheduled in time cannot record).
  int run(llvm::StringRef program, llvm::ArrayRef<llvm::StringRef> args,
          std::string *error);

  /// After mpirun failed: prints, one line per fact, why the job ended and
  /// where every rank was, and removes what the job wrote under --outputs.
  void reportFailure(const Options &options);

private:
  std::string dir;
  int ranks;
  double seconds = 0;
  /// When the launcher first saw each rank's process gone (-1: not seen).
  std::vector<double> ended;
};

//===- In a rank ----------------------------------------------------------===//

/// Opens this rank's record (once; nothing when not launched by sp-run) and
/// installs the signal handlers that note a crash (SIGSEGV, SIGBUS, SIGFPE,
/// SIGILL, SIGABRT) or the launcher stopping the job (SIGTERM, SIGINT).
void watchRank(const Job &job);

/// Notes the rank's phase (sp_runtime::RankPhase).
void setRankPhase(int phase);

/// Notes an error this rank (`rank`) reports itself (the first line of it).
void recordRankError(int rank, const std::string &message);

/// The malloc that JIT-compiled code calls: reports an allocation that
/// fails (or that SP_FAULT=oom@rankR:allocK fails) with the rank and the
/// op it was in or after, and ends the job.
void *checkedMalloc(size_t bytes);

} // namespace sp_run

#endif // SP_TOOLS_SP_RUN_FAULTS_H
