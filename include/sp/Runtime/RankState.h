//===- RankState.h - where each rank of a job is, for post-mortems -*- C++ -*-//
//
// When a job fails mid-run (a rank killed, crashed, out of memory, stuck,
// or the job past --timeout), the launcher (sp-run, tools/sp-run/Faults.cpp)
// says which rank failed and which op every rank was in. Each rank keeps a
// small record of itself in a file that it maps shared,
// $SP_RUN_STATE_DIR/rank<R>: plain stores into the mapping reach the file
// even when the process is killed with SIGKILL a moment later, and the
// launcher reads the records after mpirun has returned.
//
// Who writes what (every writer maps the same file; fields are disjoint):
//   - the runtimes (runtime/cpu, runtime/cuda-abi) enter and leave every op
//     that runs over the group (name + source location, "sp.all_reduce at
//     model.mlir:12:8") and count them;
//   - sp-run's rank process its phase, a fatal signal it caught (SIGSEGV,
//     SIGBUS, SIGABRT, ...: a crash), SIGTERM / SIGINT (the launcher
//     stopping the job), an error it or a runtime reported itself, and that
//     it finished.
//
// Header-only on purpose: each library that includes it maps the file
// once. Nothing here allocates after the first call, so it is safe in a
// signal handler and after an allocation failed.
//
// Test-only fault injection (SP_FAULT, docs/Running.md "Faults"):
//   SP_FAULT=kill@rank1:op2     rank 1 SIGKILLs itself inside its 2nd op
//   SP_FAULT=sleep@rank0:op1    rank 0 sleeps forever before its 1st op
//   SP_FAULT=crash@rank1:op1    rank 1 writes through a null pointer in its
//                               1st op (SIGSEGV)
//   SP_FAULT=oom@rank1:op1      rank 1's runtime allocation in its 1st op
//                               fails as if memory ran out
//   SP_FAULT=oom@rank1:alloc3   rank 1's 3rd allocation by compiled code
//                               fails (sp-run's JIT malloc)
// Several, comma-separated. Never set outside tests.
//
//===----------------------------------------------------------------------===//

#ifndef SP_RUNTIME_RANKSTATE_H
#define SP_RUNTIME_RANKSTATE_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sp_runtime {

/// Phases of sp-run's rank process.
enum RankPhase : int32_t {
  kPhaseStarting = 0,
  kPhaseCompiling = 1,
  kPhaseRunning = 2,
  kPhaseWritingOutputs = 3,
  kPhaseFinished = 4,
};

/// The record in $SP_RUN_STATE_DIR/rank<R> (host byte order; the launcher
/// runs on the host of rank 0 and reads only records it can map).
struct RankState {
  char magic[8];             // "SPRANK1"
  int32_t rank;
  int32_t pid;
  volatile int32_t phase;    // RankPhase
  volatile int32_t inOp;     // 1 between entering and leaving `op`
  volatile int32_t signal;   // a fatal signal caught (a crash)
  volatile int32_t stopped;  // SIGTERM / SIGINT caught (the job was stopped)
  volatile int32_t reported; // the rank reported an error itself
  int32_t reserved;
  volatile int64_t ops;      // ops entered so far
  char op[480];              // the op entered last: "sp.all_reduce at f:l:c"
  char error[512];           // the first line of the error it reported
  char host[64];             // gethostname: the launcher watches `pid` there
};

/// This process's record; null when not run by sp-run's launcher.
inline RankState *rankState(int rank = -1) {
  static RankState *state = nullptr;
  static bool tried = false;
  if (tried || rank < 0)
    return state;
  tried = true;
  const char *dir = std::getenv("SP_RUN_STATE_DIR");
  if (!dir || !*dir)
    return nullptr;
  char path[4096];
  std::snprintf(path, sizeof(path), "%s/rank%d", dir, rank);
  int fd = ::open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return nullptr;
  // Grown to the record's size by its first writer, never shrunk.
  struct stat st;
  if (::fstat(fd, &st) != 0 ||
      (st.st_size < off_t(sizeof(RankState)) &&
       ::ftruncate(fd, sizeof(RankState)) != 0)) {
    ::close(fd);
    return nullptr;
  }
  void *p = ::mmap(nullptr, sizeof(RankState), PROT_READ | PROT_WRITE,
                   MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED)
    return nullptr;
  state = static_cast<RankState *>(p);
  if (std::strncmp(state->magic, "SPRANK1", 8) != 0) {
    std::memcpy(state->magic, "SPRANK1", 8);
    state->rank = rank;
    state->pid = int32_t(::getpid());
    ::gethostname(state->host, sizeof(state->host) - 1);
  }
  return state;
}

/// The fault SP_FAULT asks for at this rank's `index`-th event of `unit`
/// ("op" or "alloc"): "kill", "sleep", "oom", or null.
inline const char *faultAt(int rank, const char *unit, int64_t index) {
  const char *spec = std::getenv("SP_FAULT");
  if (!spec || !*spec)
    return nullptr;
  static char kind[16];
  const char *p = spec;
  while (*p) {
    const char *end = std::strchr(p, ',');
    size_t length = end ? size_t(end - p) : std::strlen(p);
    char one[128] = {0};
    std::memcpy(one, p, length < sizeof(one) - 1 ? length : sizeof(one) - 1);
    char what[16] = {0}, which[16] = {0};
    int r = -1;
    long long k = -1;
    if (std::sscanf(one, "%15[a-z]@rank%d:%15[a-z]%lld", what, &r, which, &k) ==
            4 &&
        r == rank && k == index && std::strcmp(which, unit) == 0) {
      std::memcpy(kind, what, sizeof(kind));
      return kind;
    }
    if (!end)
      break;
    p = end + 1;
  }
  return nullptr;
}

/// A null pointer the compiler cannot see through (SP_FAULT=crash@...).
inline void *nullptrForFault() {
  static void *volatile null = nullptr;
  return null;
}

/// Writes through that null pointer (SP_FAULT=crash@...). Not instrumented:
/// in the sanitizer build UBSan would stop the rank before the SIGSEGV the
/// test wants.
__attribute__((no_sanitize("address", "undefined"))) inline void
writeThroughNull() {
  *static_cast<volatile int *>(nullptrForFault()) = 1;
}

/// Sleeps until killed (SP_FAULT=sleep@...).
[[noreturn]] inline void sleepForever() {
  while (true)
    ::pause();
}

/// Records that this rank enters its next op (`what`: name and location)
/// and applies SP_FAULT; returns true when the op's allocation must fail
/// (SP_FAULT=oom@rankR:opK).
inline bool enterOp(int rank, const char *what) {
  RankState *state = rankState(rank);
  static int64_t count = 0; // without a record too, for SP_FAULT
  ++count;
  const char *fault = faultAt(rank, "op", count);
  if (fault && std::strcmp(fault, "sleep") == 0)
    sleepForever(); // before arriving: the others wait in the op
  if (state) {
    state->inOp = 0;
    std::strncpy(state->op, what ? what : "?", sizeof(state->op) - 1);
    state->op[sizeof(state->op) - 1] = 0;
    state->ops = count;
    state->inOp = 1;
  }
  if (fault && std::strcmp(fault, "kill") == 0) {
    std::fprintf(stderr, "sp: SP_FAULT: rank %d kills itself in %s\n", rank,
                 what ? what : "?");
    std::fflush(stderr);
    ::kill(::getpid(), SIGKILL);
    sleepForever();
  }
  if (fault && std::strcmp(fault, "crash") == 0) {
    std::fprintf(stderr, "sp: SP_FAULT: rank %d writes through a null pointer "
                         "in %s\n",
                 rank, what ? what : "?");
    std::fflush(stderr);
    writeThroughNull();
  }
  return fault && std::strcmp(fault, "oom") == 0;
}

/// Records that this rank left the op it entered last.
inline void leaveOp() {
  if (RankState *state = rankState())
    state->inOp = 0;
}

/// Records the first error this rank reports itself (one line of it).
inline void recordError(int rank, const char *message) {
  RankState *state = rankState(rank);
  if (!state || state->reported)
    return;
  size_t n = 0;
  while (message[n] && message[n] != '\n' && n + 1 < sizeof(state->error)) {
    state->error[n] = message[n];
    ++n;
  }
  state->error[n] = 0;
  state->reported = 1;
}

} // namespace sp_runtime

#endif // SP_RUNTIME_RANKSTATE_H
