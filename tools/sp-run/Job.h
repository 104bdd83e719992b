//===- Job.h - the options and the MPI job of one sp-run --------*- C++ -*-===//

#ifndef SP_TOOLS_SP_RUN_JOB_H
#define SP_TOOLS_SP_RUN_JOB_H

#include "sp/Support/EnumChoiceParser.h"

#include "llvm/ADT/Twine.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sp_run {

/// Where the sp ops run.
enum class Backend {
  /// sp-lower-to-cpu: linalg with the reference numerics, MPI collectives.
  cpu,
  /// sp-lower-to-cuda: NCCL collectives and sp's kernels, through
  /// libsp_cuda_runtime.so (or another library with its ABI).
  cuda,
};

/// Everything the command line decides.
struct Options {
  std::string inputFile;
  int ranks = 1;
  Backend backend = Backend::cpu;
  /// --cpu-codegen: sp-lower-to-cpu's codegen=scalar, or its vector-bits
  /// (0: the host's).
  bool scalarCPUCodegen = false;
  unsigned cpuVectorBits = 0;
  std::string cudaRuntime;
  std::string entry;
  uint64_t seed = 0;
  std::string inputsDir;
  /// --shape=ARG:DIMS: the sizes of generated arguments with dynamic dims.
  std::map<unsigned, std::vector<int64_t>> shapes;
  /// --tokens: run once per token count; each argument's dynamic dim 0
  /// takes it (the other dynamic dims come from --shape).
  std::vector<int64_t> tokenCounts;
  std::string outputsDir;
  std::string comparePipeline;
  bool printValues = false;
  int timeoutSeconds = 600;
  int repeat = 0;
  std::string reportFile;
  /// Extra arguments for the mpirun that sp-run starts itself (split like a
  /// shell command line), and --hostfile FILE.
  std::string mpirunArgs;
  std::string hostfile;
};

/// This process's place in the MPI job. Rank 0 prints; errors end the
/// process on every rank the same way when every rank knows them
/// (failEverywhere), and abort the job when only this rank does (failHere),
/// so that no rank waits forever in a collective.
struct Job {
  int rank = 0;
  int size = 1;
  bool leader() const { return rank == 0; }

  [[noreturn]] void failEverywhere(const llvm::Twine &message) const;
  [[noreturn]] void failHere(const llvm::Twine &message) const;
};

} // namespace sp_run

template <>
struct mlir::sp::EnumChoices<sp_run::Backend> {
  static llvm::ArrayRef<std::pair<llvm::StringLiteral, sp_run::Backend>>
  get() {
    static const std::pair<llvm::StringLiteral, sp_run::Backend> choices[] = {
        {"cpu", sp_run::Backend::cpu}, {"cuda", sp_run::Backend::cuda}};
    return choices;
  }
};
template <>
class llvm::cl::parser<sp_run::Backend>
    : public mlir::sp::EnumChoiceParser<sp_run::Backend> {
public:
  using EnumChoiceParser::EnumChoiceParser;
};

#endif // SP_TOOLS_SP_RUN_JOB_H
