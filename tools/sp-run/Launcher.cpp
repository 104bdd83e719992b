//===- Launcher.cpp - starting sp-run on N ranks --------------------------===//
//
// With --ranks > 1, sp-run starts itself under mpirun, one process per rank,
// and waits. The ranks end normally even when a comparison fails (mpirun
// prints pages for a non-zero exit); rank 0 reports the mismatch through a
// status file instead.
//
//===----------------------------------------------------------------------===//

#include "Launcher.h"
#include "Faults.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/StringSaver.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <mpi.h>

#include <chrono>
#include <cstdlib>
#include <thread>
#include <unistd.h>
#include <vector>

namespace sp_run {

void Job::failEverywhere(const llvm::Twine &message) const {
  // One write per message: mpirun interleaves the ranks' output at write
  // boundaries.
  std::string line = ("sp-run: error: " + message + "\n").str();
  recordRankError(rank, line);
  if (leader())
    llvm::errs() << line;
  MPI_Finalize();
  std::exit(1);
}

void Job::failHere(const llvm::Twine &message) const {
  std::string line =
      ("sp-run: error (rank " + llvm::Twine(rank) + "): " + message + "\n")
          .str();
  recordRankError(rank, line);
  llvm::errs() << line;
  llvm::errs().flush();
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::exit(1);
}

static constexpr const char *kStatusFileVariable = "SP_RUN_STATUS_FILE";

/// A positive integer from the environment, or 0.
static int envCount(const char *name) {
  const char *value = getenv(name);
  if (!value || !*value)
    return 0;
  char *end = nullptr;
  long n = std::strtol(value, &end, 10);
  return *end == 0 && n > 0 && n < (1 << 24) ? int(n) : 0;
}

std::optional<ExternalLauncher> detectExternalLauncher() {
  // A Slurm job step (srun), not the batch script: the batch script has
  // SLURM_PROCID and SLURM_NTASKS too, but no step id.
  bool slurmStep = getenv("SLURM_STEP_ID") && getenv("SLURM_PROCID");
  int slurmTasks = envCount("SLURM_STEP_NUM_TASKS");
  if (!slurmTasks)
    slurmTasks = envCount("SLURM_NTASKS");
  if (getenv("OMPI_COMM_WORLD_SIZE"))
    return ExternalLauncher{slurmStep ? "srun (Slurm, OpenMPI)"
                                      : "mpirun (OpenMPI)",
                            envCount("OMPI_COMM_WORLD_SIZE")};
  if (getenv("PMIX_RANK"))
    return ExternalLauncher{slurmStep ? "srun (Slurm, PMIx)" : "a PMIx launcher",
                            slurmStep ? slurmTasks : 0};
  if (getenv("PMI_SIZE") || getenv("PMI_RANK"))
    return ExternalLauncher{slurmStep ? "srun (Slurm, PMI)" : "a PMI launcher",
                            envCount("PMI_SIZE")};
  // srun without an MPI plugin (--mpi=none) and several tasks: MPI_Init
  // cannot reach the other tasks; checkExternalJob says so. One task is
  // sp-run started in an allocation, free to start mpirun itself.
  if (slurmStep && slurmTasks > 1)
    return ExternalLauncher{"srun (Slurm, no PMI)", slurmTasks};
  return std::nullopt;
}

std::string checkExternalJob(const ExternalLauncher &launcher,
                             const Options &options, bool ranksGiven,
                             int worldSize) {
  std::string size = std::to_string(worldSize);
  if (launcher.size > 0 && launcher.size != worldSize)
    return launcher.name + " started " + std::to_string(launcher.size) +
           " processes, but MPI_Init joined a job of " + size +
           ": this MPI library cannot reach the launcher (with srun, pass "
           "--mpi=pmix or --mpi=pmi2, whichever the MPI library sp-run was "
           "built with supports; with mpirun, use that library's mpirun)";
  if (ranksGiven && options.ranks != worldSize)
    return "sp-run runs under " + launcher.name + " in a job of " + size +
           (worldSize == 1 ? " process" : " processes") +
           ", but --ranks=" + std::to_string(options.ranks) +
           " (leave --ranks out, or give --ranks=" + size +
           ", or start " + std::to_string(options.ranks) + " processes)";
  if (!options.mpirunArgs.empty() || !options.hostfile.empty())
    return std::string(options.hostfile.empty() ? "--mpirun-args"
                                                : "--hostfile") +
           " applies to the mpirun that sp-run starts itself, but sp-run "
           "already runs under " +
           launcher.name + "; give these options to " + launcher.name;
  return "";
}

void startTimeoutWatchdog(const Options &options, const Job &job,
                          const ExternalLauncher &launcher) {
  if (options.timeoutSeconds <= 0)
    return;
  int seconds = options.timeoutSeconds;
  std::string message =
      (job.leader() ? "sp-run: error: " : "sp-run: error (rank " +
                                              std::to_string(job.rank) +
                                              "): ") +
      std::string("the job did not finish within --timeout=") +
      std::to_string(seconds) + " s; aborting it (under " + launcher.name +
      ")\n";
  int delay = seconds + (job.leader() ? 0 : 5);
  std::thread([delay, message] {
    std::this_thread::sleep_for(std::chrono::seconds(delay));
    ssize_t written = ::write(2, message.data(), message.size());
    (void)written;
    // Never let the abort itself hang the job.
    alarm(10);
    MPI_Abort(MPI_COMM_WORLD, 1);
    _exit(1);
  }).detach();
}

int launchRanks(const Options &options, int argc, char **argv) {
  auto mpirun = llvm::sys::findProgramByName("mpirun");
  if (!mpirun) {
    llvm::errs() << "sp-run: error: --ranks=" << options.ranks
                 << " needs mpirun (install openmpi-bin), which is not on "
                    "PATH\n";
    return 1;
  }
  std::string self = llvm::sys::fs::getMainExecutable(
      argv[0], reinterpret_cast<void *>(&launchRanks));
  std::vector<std::string> args{*mpirun, "-np", std::to_string(options.ranks),
                                "--oversubscribe", "--bind-to", "none"};
  if (geteuid() == 0)
    args.push_back("--allow-run-as-root");
  if (options.timeoutSeconds > 0) {
    args.push_back("--timeout");
    args.push_back(std::to_string(options.timeoutSeconds));
  }
  if (!options.hostfile.empty()) {
    args.push_back("--hostfile");
    args.push_back(options.hostfile);
  }
  // --mpirun-args: split like a shell command line (quotes, backslashes).
  if (!options.mpirunArgs.empty()) {
    llvm::BumpPtrAllocator allocator;
    llvm::StringSaver saver(allocator);
    llvm::SmallVector<const char *> extra;
    llvm::cl::TokenizeGNUCommandLine(options.mpirunArgs, saver, extra);
    for (const char *arg : extra)
      if (arg)
        args.push_back(arg);
  }
  args.push_back(self);
  for (int i = 1; i < argc; ++i)
    args.push_back(argv[i]);
  args.push_back("--sp-run-worker");
  std::vector<llvm::StringRef> refs(args.begin(), args.end());
  llvm::SmallString<128> statusFile;
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
          "sp-run-status", "txt", statusFile)) {
    llvm::errs() << "sp-run: error: cannot create a temporary file: "
                 << ec.message() << "\n";
    return 1;
  }
  setenv(kStatusFileVariable, statusFile.c_str(), 1);
  // A fresh file for the NCCL id exchange (empty until rank 0 writes the
  // id): a stale id from another job cannot be picked up.
  llvm::SmallString<128> ncclIdFile;
  if (options.backend == Backend::cuda && !getenv("SP_NCCL_ID_FILE") &&
      !llvm::sys::fs::createTemporaryFile("sp-nccl-id", "bin", ncclIdFile))
    setenv("SP_NCCL_ID_FILE", ncclIdFile.c_str(), 1);
  // Shared-memory transport without cross-memory attach: works in
  // containers that forbid ptrace.
  setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 0);
  // Each rank's record of where it is, read if the job fails (Faults.h).
  RankWatch watch(options.ranks);
  std::string error;
  int code = watch.run(*mpirun, refs, &error);
  auto status = llvm::MemoryBuffer::getFile(statusFile);
  bool mismatch = status && (*status)->getBuffer().starts_with("mismatch");
  llvm::sys::fs::remove(statusFile);
  if (!ncclIdFile.empty())
    llvm::sys::fs::remove(ncclIdFile);
  if (code < 0) {
    llvm::errs() << "sp-run: error: cannot run mpirun: " << error << "\n";
    return 1;
  }
  if (code != 0) {
    llvm::errs() << "sp-run: error: the rank processes failed (mpirun exit "
                    "code "
                 << code << ")\n";
    watch.reportFailure(options);
    return 1;
  }
  return mismatch ? 1 : 0;
}

int finishRank(const Job &job, int status) {
  const char *statusFile = getenv(kStatusFileVariable);
  if (!statusFile)
    return status;
  if (status != 0 && job.leader()) {
    std::error_code ec;
    llvm::raw_fd_ostream os(statusFile, ec);
    os << "mismatch\n";
  }
  return 0;
}

} // namespace sp_run
