//===- Invoke.h - calling the compiled entry function -----------*- C++ -*-===//

#ifndef SP_TOOLS_SP_RUN_INVOKE_H
#define SP_TOOLS_SP_RUN_INVOKE_H

#include "HostTensor.h"
#include "Job.h"
#include "Module.h"

#include <vector>

namespace sp_run {

/// Calls the entry function on copies of `inputs` (compiled code may write
/// into its arguments) and returns its results as dense host tensors.
llvm::SmallVector<HostTensor> invokeEntry(CompiledModule &compiled,
                                          const Signature &signature,
                                          llvm::ArrayRef<HostTensor> inputs,
                                          const Job &job);

/// Wall times of `repeat` calls, every call started on all ranks together.
struct CallTimes {
  /// Median over the calls of the slowest rank's time per call (seconds).
  double slowestRankMedian = 0;
  /// Each rank's median time per call (rank 0 only; empty elsewhere).
  std::vector<double> perRankMedian;
};
CallTimes timeCalls(CompiledModule &compiled, const Signature &signature,
                    llvm::ArrayRef<HostTensor> inputs, int repeat,
                    const Job &job);

} // namespace sp_run

#endif // SP_TOOLS_SP_RUN_INVOKE_H
