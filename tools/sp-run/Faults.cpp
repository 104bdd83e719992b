//===- Faults.cpp - post-mortems of jobs that fail mid-run ----------------===//
//
// See Faults.h and sp/Runtime/RankState.h. The launcher makes a directory
// of records (SP_RUN_STATE_DIR), one file per rank that the rank maps
// shared; the runtimes note every op over the group they enter and leave,
// the rank process its phase, a crash, a stop by the launcher (SIGTERM) and
// an error it reported. After a failed job the launcher reads them all: a
// rank that left no sign of an error, a crash or a stop died from outside
// (SIGKILL, the OOM killer); a rank stuck before an op the others wait in
// never arrived.
//
//===----------------------------------------------------------------------===//

#include "Faults.h"

#include "sp/Runtime/RankState.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <mpi.h>

#include "llvm/Support/Program.h"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <unistd.h>
#include <vector>

using sp_runtime::RankState;

namespace sp_run {

//===----------------------------------------------------------------------===//
// In the launcher
//===----------------------------------------------------------------------===//

RankWatch::RankWatch(int ranks) : ranks(ranks), ended(ranks, -1.0) {
  llvm::SmallString<128> path;
  if (llvm::sys::fs::createUniqueDirectory("sp-run-ranks", path))
    return;
  dir = std::string(path);
  setenv("SP_RUN_STATE_DIR", dir.c_str(), 1);
}

RankWatch::~RankWatch() {
  if (!dir.empty())
    llvm::sys::fs::remove_directories(dir);
}

static std::optional<RankState> readRecord(const std::string &dir, int rank) {
  llvm::SmallString<128> path(dir);
  llvm::sys::path::append(path, "rank" + std::to_string(rank));
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer || (*buffer)->getBufferSize() < sizeof(RankState))
    return std::nullopt;
  RankState state;
  std::memcpy(static_cast<void *>(&state), (*buffer)->getBufferStart(),
              sizeof(RankState));
  if (std::strncmp(state.magic, "SPRANK1", 8) != 0)
    return std::nullopt;
  state.op[sizeof(state.op) - 1] = 0;
  state.error[sizeof(state.error) - 1] = 0;
  return state;
}

/// Whether process `pid` of this host has ended (gone, or a zombie that
/// mpirun has not reaped yet).
static bool hasEnded(int pid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE *f = std::fopen(path, "r");
  if (!f)
    return true;
  char line[512] = {0};
  size_t n = std::fread(line, 1, sizeof(line) - 1, f);
  std::fclose(f);
  // "pid (comm) S ...": the state follows the last ')'.
  const char *close = std::strrchr(line, ')');
  return n == 0 || !close || close[1] == 0 || close[2] == 'Z' ||
         close[2] == 'X';
}

int RankWatch::run(llvm::StringRef program,
                   llvm::ArrayRef<llvm::StringRef> args, std::string *error) {
  auto started = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         started)
        .count();
  };
  bool failed = false;
  llvm::sys::ProcessInfo mpirun = llvm::sys::ExecuteNoWait(
      program, args, std::nullopt, {}, 0, error, &failed);
  if (failed || mpirun.Pid == llvm::sys::ProcessInfo::InvalidPid)
    return -1;
  char host[64] = {0};
  ::gethostname(host, sizeof(host) - 1);
  std::vector<int> pids(ranks, 0);
  while (true) {
    llvm::sys::ProcessInfo done = llvm::sys::Wait(mpirun, /*SecondsToWait=*/0,
                                                  error);
    if (done.Pid != 0) {
      seconds = elapsed();
      return done.ReturnCode;
    }
    for (int r = 0; r < ranks && !dir.empty(); ++r) {
      if (ended[r] >= 0)
        continue;
      if (!pids[r]) {
        std::optional<RankState> state = readRecord(dir, r);
        if (state && std::strncmp(state->host, host, sizeof(host)) == 0)
          pids[r] = state->pid;
      }
      if (pids[r] && hasEnded(pids[r]))
        ended[r] = elapsed();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

static const char *phaseText(int phase) {
  switch (phase) {
  case sp_runtime::kPhaseStarting:
    return "starting (reading the module and its inputs)";
  case sp_runtime::kPhaseCompiling:
    return "lowering and compiling the module";
  case sp_runtime::kPhaseRunning:
    return "running the entry function";
  case sp_runtime::kPhaseWritingOutputs:
    return "writing its outputs";
  case sp_runtime::kPhaseFinished:
    return "finished";
  }
  return "in an unknown phase";
}

static std::string signalName(int signal) {
  switch (signal) {
  case SIGSEGV:
    return "SIGSEGV";
  case SIGBUS:
    return "SIGBUS";
  case SIGFPE:
    return "SIGFPE";
  case SIGILL:
    return "SIGILL";
  case SIGABRT:
    return "SIGABRT";
  case SIGTERM:
    return "SIGTERM";
  case SIGINT:
    return "SIGINT";
  }
  return "signal " + std::to_string(signal);
}

/// "in sp.all_reduce at f:3:8 (its op #2)", "after ... (its op #2, ...)",
/// "before its first op over the group".
static std::string whereIn(const RankState &s) {
  std::string number = "its op #" + std::to_string(s.ops);
  if (s.ops == 0)
    return std::string("before its first op over the group, while ") +
           phaseText(s.phase);
  if (s.inOp)
    return std::string("in ") + s.op + " (" + number + ")";
  return std::string("after ") + s.op + " (" + number + "), while " +
         phaseText(s.phase);
}

void RankWatch::reportFailure(const Options &options) {
  std::string text;
  llvm::raw_string_ostream os(text);
  bool timedOut = options.timeoutSeconds > 0 &&
                  seconds + 0.5 >= double(options.timeoutSeconds);
  if (timedOut)
    os << "sp-run: error: the job did not finish within --timeout="
       << options.timeoutSeconds << " s and was stopped\n";
  std::vector<std::optional<RankState>> states;
  for (int r = 0; r < options.ranks; ++r)
    states.push_back(dir.empty() ? std::nullopt : readRecord(dir, r));

  // The op most ranks were stuck in: the one with the highest op number
  // among the ranks in an op.
  const RankState *waiting = nullptr;
  for (const auto &s : states)
    if (s && s->inOp && !s->signal && !s->reported &&
        (!waiting || s->ops > waiting->ops))
      waiting = &*s;

  // A rank with no sign of an error, a crash or a stop in its record was
  // either killed from outside, or stopped by mpirun (SIGTERM, then SIGKILL
  // a second later: a rank not scheduled in time records nothing) after
  // the job failed elsewhere or timed out. The first rank the launcher saw
  // gone, alone, while no rank explains the failure, is the one killed.
  bool explained = timedOut;
  for (const auto &s : states)
    explained = explained || (s && (s->reported || s->signal));
  double first = -1;
  for (int r = 0; r < options.ranks; ++r)
    if (ended[r] >= 0 && (first < 0 || ended[r] < first))
      first = ended[r];
  auto stoppedByMpirun = [&](int r) {
    if (explained)
      return true;
    // Not the one seen gone first: stopped after it. Seen gone first
    // together with another: cannot tell, call it killed.
    return first >= 0 && !(ended[r] >= 0 && ended[r] == first);
  };

  // An error every rank reported alike (the module does not parse, ...)
  // was printed once by rank 0; nothing to add.
  bool alike = !states.empty();
  for (const auto &s : states)
    alike = alike && s && s->reported && !s->inOp &&
            std::strcmp(s->error, states[0]->error) == 0;
  for (int r = 0; r < options.ranks && !alike; ++r) {
    const std::optional<RankState> &s = states[r];
    os << "sp-run: rank " << r << ": ";
    if (!s) {
      os << "left no record (it ended before it could keep one)\n";
      continue;
    }
    if (s->phase == sp_runtime::kPhaseFinished && !s->reported &&
        !s->signal) {
      os << "finished\n";
      continue;
    }
    if (s->reported) {
      // Without the "sp... error (rank R): " the line above already has.
      llvm::StringRef error(s->error);
      size_t prefix = error.find("): ");
      if (error.starts_with("sp") && prefix != llvm::StringRef::npos &&
          prefix < 48)
        error = error.drop_front(prefix + 3);
      os << "reported an error " << whereIn(*s) << ": " << error << "\n";
    }
    else if (s->signal)
      os << "crashed (" << signalName(s->signal) << ") " << whereIn(*s)
         << "\n";
    else if (s->stopped || stoppedByMpirun(r)) {
      if (s->stopped)
        os << "was stopped (" << signalName(s->stopped) << ") ";
      else
        os << (timedOut ? "was stopped at the timeout "
                        : "was stopped by mpirun ");
      os << whereIn(*s);
      if (s->inOp && waiting && s->ops == waiting->ops &&
          std::strcmp(s->op, waiting->op) == 0)
        os << ", waiting for the other ranks";
      os << "\n";
    } else
      os << "died without a report (killed from outside: SIGKILL, the OOM "
            "killer, ...) "
         << whereIn(*s) << "\n";
  }
  // Ranks that never reached the op the others waited in.
  if (waiting) {
    std::string absent;
    for (int r = 0; r < options.ranks; ++r) {
      const std::optional<RankState> &s = states[r];
      bool there = s && s->inOp && s->ops == waiting->ops &&
                   std::strcmp(s->op, waiting->op) == 0;
      if (!there)
        absent += (absent.empty() ? "" : ", ") + std::to_string(r);
    }
    if (!absent.empty())
      os << "sp-run: the ranks in " << waiting->op << " waited for rank"
         << (absent.find(',') != std::string::npos ? "s " : " ") << absent
         << ", which never arrived there\n";
  }
  // The outputs of a failed job are not presented as complete: whatever
  // this job's ranks wrote (or half wrote) under --outputs goes.
  if (!options.outputsDir.empty()) {
    int removed = 0;
    for (int r = 0; r < options.ranks; ++r) {
      llvm::SmallString<256> rankDir(options.outputsDir);
      llvm::sys::path::append(rankDir, "rank" + std::to_string(r));
      std::error_code ec;
      std::vector<std::string> doomed;
      for (llvm::sys::fs::directory_iterator it(rankDir, ec), end;
           !ec && it != end; it.increment(ec)) {
        llvm::StringRef name = llvm::sys::path::filename(it->path());
        if (name.contains("output") &&
            (name.ends_with(".npy") || name.ends_with(".npy.partial")))
          doomed.push_back(it->path());
      }
      for (const std::string &path : doomed)
        if (!llvm::sys::fs::remove(path))
          ++removed;
    }
    llvm::SmallString<256> marker(options.outputsDir);
    llvm::sys::path::append(marker, "COMPLETE");
    llvm::sys::fs::remove(marker);
    if (removed)
      os << "sp-run: removed the " << removed << " output file"
         << (removed == 1 ? "" : "s") << " the failed job left in '"
         << options.outputsDir << "'\n";
  }
  llvm::errs() << os.str();
}

//===----------------------------------------------------------------------===//
// In a rank
//===----------------------------------------------------------------------===//

namespace {
int thisRank = 0;
const int kCrashSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
const int kStopSignals[] = {SIGTERM, SIGINT};
struct sigaction previous[65];

void onSignal(int signal) {
  if (RankState *state = sp_runtime::rankState()) {
    bool stop = signal == SIGTERM || signal == SIGINT;
    if (stop && !state->stopped)
      state->stopped = signal;
    else if (!stop && !state->signal)
      state->signal = signal;
  }
  // Whoever handled it before (OpenMPI's backtrace, a sanitizer, the
  // default action) handles it now: a fault re-raises when the instruction
  // runs again, the others are raised again.
  sigaction(signal, &previous[signal], nullptr);
  if (signal != SIGSEGV && signal != SIGBUS && signal != SIGFPE &&
      signal != SIGILL)
    raise(signal);
}
} // namespace

void watchRank(const Job &job) {
  static bool watching = false;
  if (watching)
    return;
  watching = true;
  thisRank = job.rank;
  if (!sp_runtime::rankState(job.rank))
    return;
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = &onSignal;
  sigemptyset(&action.sa_mask);
  for (int signal : kCrashSignals)
    sigaction(signal, &action, &previous[signal]);
  // SP_FAULT=deaf@rankR:op0 (tests only): this rank ignores SIGTERM, as a
  // rank that is not scheduled before mpirun's SIGKILL records nothing.
  const char *fault = sp_runtime::faultAt(job.rank, "op", 0);
  bool deaf = fault && std::strcmp(fault, "deaf") == 0;
  for (int signal : kStopSignals) {
    if (deaf && signal == SIGTERM)
      std::signal(SIGTERM, SIG_IGN);
    else
      sigaction(signal, &action, &previous[signal]);
  }
}

void setRankPhase(int phase) {
  if (RankState *state = sp_runtime::rankState())
    state->phase = phase;
}

void recordRankError(int rank, const std::string &message) {
  sp_runtime::recordError(rank, message.c_str());
}

void *checkedMalloc(size_t bytes) {
  static int64_t count = 0;
  ++count;
  const char *fault = sp_runtime::faultAt(thisRank, "alloc", count);
  void *p = fault && std::strcmp(fault, "oom") == 0 ? nullptr
                                                     : std::malloc(bytes);
  if (p || bytes == 0)
    return p;
  // No allocation from here on: one message on the stack, one write.
  char where[600] = "before its first op over the group";
  if (RankState *state = sp_runtime::rankState()) {
    if (state->ops > 0)
      std::snprintf(where, sizeof(where), "%s %s (its op #%lld)",
                    state->inOp ? "in" : "after", state->op,
                    static_cast<long long>(state->ops));
  }
  char message[900];
  std::snprintf(message, sizeof(message),
                "sp-run: error (rank %d): out of memory: the compiled code's "
                "allocation of %zu bytes (its allocation #%lld) failed, %s\n",
                thisRank, bytes, static_cast<long long>(count), where);
  sp_runtime::recordError(thisRank, message);
  ssize_t written = ::write(2, message, std::strlen(message));
  (void)written;
  MPI_Abort(MPI_COMM_WORLD, 1);
  _exit(1);
}

} // namespace sp_run
