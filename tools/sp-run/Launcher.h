//===- Launcher.h - starting sp-run on N ranks ------------------*- C++ -*-===//

#ifndef SP_TOOLS_SP_RUN_LAUNCHER_H
#define SP_TOOLS_SP_RUN_LAUNCHER_H

#include "Job.h"

#include <optional>
#include <string>

namespace sp_run {

/// A launcher that started this process as one rank of a job (sp-run then
/// runs as that rank instead of starting mpirun itself).
struct ExternalLauncher {
  /// For messages: "mpirun (OpenMPI)", "srun (Slurm, PMIx)", ...
  std::string name;
  /// The number of processes it started, when its environment says so
  /// (0: unknown; MPI_Comm_size decides).
  int size = 0;
};

/// The launcher that started this process, from its environment: OpenMPI
/// (OMPI_COMM_WORLD_SIZE), PMI (PMI_SIZE, PMI_RANK), PMIx (PMIX_RANK) or a
/// Slurm job step (SLURM_STEP_ID and SLURM_PROCID; SLURM_STEP_NUM_TASKS or
/// SLURM_NTASKS); std::nullopt when there is none (or only a Slurm batch
/// script's environment, which has no step). Not called in the ranks that
/// sp-run's own mpirun starts (--sp-run-worker).
std::optional<ExternalLauncher> detectExternalLauncher();

/// In a rank under an external launcher, after MPI_Init: the error message
/// when MPI's world disagrees with the launcher or with --ranks (given:
/// whether --ranks was on the command line), or "".
std::string checkExternalJob(const ExternalLauncher &launcher,
                             const Options &options, bool ranksGiven,
                             int worldSize);

/// Under an external launcher, which does not know sp-run's --timeout: a
/// thread that ends the whole job (MPI_Abort) with a message when it runs
/// past --timeout seconds (rank 0 at the deadline, the others a few seconds
/// later in case rank 0 is the one stuck). Nothing for --timeout=0.
void startTimeoutWatchdog(const Options &options, const Job &job,
                          const ExternalLauncher &launcher);

/// Re-runs this program (argv) under mpirun with one process per rank and
/// returns sp-run's exit code: 1 when a rank failed or (reported by rank 0
/// through a status file) the comparison found a difference.
int launchRanks(const Options &options, int argc, char **argv);

/// Called by rank 0 at the end of a launched job: records a comparison
/// mismatch for the launcher. Returns the exit code the rank should use.
int finishRank(const Job &job, int status);

} // namespace sp_run

#endif // SP_TOOLS_SP_RUN_LAUNCHER_H
