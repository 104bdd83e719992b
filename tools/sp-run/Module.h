//===- Module.h - preparing a module to run ---------------------*- C++ -*-===//

#ifndef SP_TOOLS_SP_RUN_MODULE_H
#define SP_TOOLS_SP_RUN_MODULE_H

#include "HostTensor.h"
#include "Job.h"

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/IR/BuiltinOps.h"

#include <memory>
#include <optional>
#include <string>

namespace sp_run {

/// The arguments and results of the entry function.
struct Signature {
  std::string name;
  llvm::SmallVector<mlir::RankedTensorType> args;
  llvm::SmallVector<bool> replicated;
  /// Per argument: the grid axes along which it is the same
  /// (`sp.replicated_axes`), empty if none.
  llvm::SmallVector<llvm::SmallVector<int64_t>> replicatedAxes;
  /// The grid of the module's groups with a layout ([ranks] if none has
  /// one): what `sp.replicated_axes` refers to.
  llvm::SmallVector<int64_t> grid;
  llvm::SmallVector<mlir::RankedTensorType> results;
};

/// "" when every sp.group of `module` lives in a job of `ranks` ranks (its
/// size without a layout, its grid's size with one), else the error.
std::string checkGroupsFitJob(mlir::ModuleOp module, int ranks);

/// Finds the entry function (--entry, or the only public function with a
/// body), checks that sp-run can pass its arguments and read its results,
/// and that every group spans the job's ranks.
Signature inspectModule(mlir::ModuleOp module, const Options &options,
                        const Job &job);

/// This rank's inputs: .npy files from --inputs, else seeded values (the
/// same on every rank for `sp.replicated` arguments, and on every rank whose
/// grid coordinates differ only along the listed axes for
/// `sp.replicated_axes` ones).
/// A dynamic size comes from --shape, else `tokens` for dim 0 (--tokens).
llvm::SmallVector<HostTensor>
makeInputs(const Signature &signature, const Options &options, const Job &job,
           std::optional<int64_t> tokens = std::nullopt);

/// Loads the CUDA runtime library for --backend=cuda (--cuda-runtime, or
/// libsp_cuda_runtime.so beside sp-run's lib/) and installs its error
/// handler, which aborts the job.
void loadCudaRuntime(const Options &options, const char *argv0,
                     const Job &job);

/// Destroys the CUDA runtime's communicator, if a runtime is loaded.
void finalizeCudaRuntime();

/// A module lowered and JIT-compiled, ready to call.
struct CompiledModule {
  std::unique_ptr<mlir::ExecutionEngine> engine;
};

/// Runs `pipeline` (if any) on a copy of `source`, lowers it for the
/// backend, JIT-compiles it and registers the runtimes' symbols.
CompiledModule compileModule(mlir::ModuleOp source, const Signature &signature,
                             llvm::StringRef pipeline, const Options &options,
                             const Job &job);

} // namespace sp_run

#endif // SP_TOOLS_SP_RUN_MODULE_H
